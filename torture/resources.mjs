// Resources: many acquire/release cycles keep the descriptor count flat and the memory level.
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { check, here } from './lib.mjs';

const MiB = 1024 * 1024;

export function resources({ cycles, mode }) {
  const run = spawnSync(process.execPath, ['--expose-gc', path.join(here, 'cycles.mjs'), String(cycles)], {
    encoding: 'utf8', env: { ...process.env, PIDGUARD_MODE: mode }, maxBuffer: 1 << 20,
  });
  check(run.status === 0, `cycles.mjs failed: ${run.stderr}`);
  const { before, after } = JSON.parse(run.stdout);
  const heap = (after.heapUsed - before.heapUsed) / MiB;
  const external = (after.external - before.external) / MiB;
  const rss = (after.rss - before.rss) / MiB;
  check(after.fds === before.fds, `descriptors went from ${before.fds} to ${after.fds}`);
  check(heap < 1, `the heap grew by ${heap.toFixed(2)} MiB`);
  check(external < 1, `external memory grew by ${external.toFixed(2)} MiB`);
  return { cycles, fds: `${before.fds} -> ${after.fds}`, heapMiB: heap.toFixed(3), externalMiB: external.toFixed(3), rssMiB: rss.toFixed(1) };
}
