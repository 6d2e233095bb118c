// Child processes never keep the lock: the descriptor is opened close-on-exec, so neither a
// child started while the lock is held, nor one forked in the middle of a release, inherits it.
// Checked from outside: flock(1) on the file, and every child's /proc/<pid>/fd.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { check, child, here, scratch } from './lib.mjs';

function flockCanTake(file) {
  return spawnSync('flock', ['--nonblock', file, 'true']).status === 0;
}

/** Paths the process `pid` has open (empty once it has exited). */
function openPaths(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
  } catch {
    return [];
  }
}

export async function children({ cycles, mode }) {
  const { dir, cleanup } = scratch('children');
  const file = path.join(dir, 'spawner.pid');
  try {
    const spawner = child(path.join(here, 'spawner.mjs'), [file, String(cycles)], { PIDGUARD_MODE: mode });
    const pids = JSON.parse(await spawner.next());
    await spawner.exited;
    check(pids.length > 0, 'no children were started');
    const holding = pids.filter((pid) => openPaths(pid).some((target) => target.startsWith(file)));
    check(holding.length === 0, `children ${holding.join(', ')} have the PID file open`);
    if (mode === 'kernel') check(flockCanTake(file), 'the lock outlived its holder');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return { cycles, children: pids.length };
  } finally {
    cleanup();
  }
}
