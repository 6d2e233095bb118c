// Contention: `processes` processes each take one lock `count` times, as fast as they can.
// Throughput is every acquisition over the wall time from "go" to the last one done; fairness is
// the spread of single waits, the longest being how long the unluckiest process waited.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { summarize } from './stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function contention(name, file, processes, count) {
  const workers = Array.from({ length: processes }, () => {
    const child = spawn(process.execPath, [path.join(here, 'contention-worker.mjs'), name, file, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    return { child, next: async () => (await lines.next()).value };
  });
  for (const worker of workers) await worker.next(); // ready: every process has loaded its library
  const started = process.hrtime.bigint();
  for (const worker of workers) worker.child.stdin.end('go\n');
  const waits = (await Promise.all(workers.map(async (worker) => JSON.parse(await worker.next())))).flat();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { summary: summarize(waits), throughput: waits.length / seconds };
}
