// Run with --expose-gc: `cycles` acquire/release cycles (half sync, half async) after a warm-up,
// measuring descriptors and memory before and after, printed as JSON.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquire, acquireSync } from 'pidguard';

const cycles = Number(process.argv[2]);
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-cycles-')), 'cycles.pid');
const measure = () => {
  globalThis.gc();
  const { heapUsed, external, rss } = process.memoryUsage();
  return { fds: fs.readdirSync('/proc/self/fd').length, heapUsed, external, rss };
};
for (let i = 0; i < 1000; i += 1) acquireSync(file).release();
const before = measure();
for (let i = 0; i < cycles / 2; i += 1) acquireSync(file).release();
for (let i = 0; i < cycles / 2; i += 1) (await acquire(file)).release();
const after = measure();
fs.rmSync(path.dirname(file), { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ before, after })}\n`);
