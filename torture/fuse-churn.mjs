// Churn on a file system that refuses locks (test/fixtures/nolock-fs.py, a FUSE mount that answers
// flock with ENOLCK), with hard links and without: processes loop acquire with failOpen in mode
// 'auto', which falls back to PID files there, and release. Files replaced under a read (FUSE
// answers fstat of a descriptor by path) are contention, never an error: failOpen must never
// hand out a handle that holds nothing because of them, and no two may hold at once.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { check, child, here, readJournal, scratch } from './lib.mjs';

/** Why this cannot run here, or null. */
function unavailable() {
  if (process.platform !== 'linux') return 'FUSE on Linux';
  if (process.getuid() !== 0) return 'mounting FUSE needs root';
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse';
  if (spawnSync('/usr/bin/python3', ['-c', 'import fusepy']).status !== 0) return "no python3-fusepy (Debian's package; .ci/run installs it)";
  return null;
}

async function mount(dir, links) {
  const backing = path.join(dir, links ? 'backing-links' : 'backing-no-links');
  const mountPoint = path.join(dir, links ? 'mnt-links' : 'mnt-no-links');
  fs.mkdirSync(backing);
  fs.mkdirSync(mountPoint);
  const daemon = spawn('/usr/bin/python3', [path.join(here, '..', 'test', 'fixtures', 'nolock-fs.py'), ...(links ? [] : ['--no-links']), backing, mountPoint],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    daemon.stdout.once('data', resolve);
    daemon.once('exit', (code) => reject(new Error(`nolock-fs exited ${code}`)));
  });
  return {
    mountPoint,
    unmount: () => {
      spawnSync('umount', ['-l', mountPoint]);
      daemon.kill('SIGKILL');
    },
  };
}

async function churnOn(dir, { processes, holds, links }) {
  const { mountPoint, unmount } = await mount(dir, links);
  const file = path.join(mountPoint, 'churn.pid');
  const journalFile = path.join(dir, `journal-${links ? 'links' : 'no-links'}`);
  try {
    const workers = Array.from({ length: processes }, () => child(path.join(here, 'failopen-churner.mjs'), [file, journalFile, String(holds)]));
    for (const worker of workers) check((await worker.next()) === 'ready', 'a churner did not start');
    for (const worker of workers) worker.proc.stdin.end('go\n');
    const results = await Promise.all(workers.map(async (worker) => JSON.parse(await worker.next())));
    const statuses = await Promise.all(workers.map((worker) => worker.exited));
    check(statuses.every(({ code }) => code === 0), `a churner failed: ${JSON.stringify(statuses)}`);
    let inside = null;
    const lines = readJournal(journalFile);
    for (const [index, line] of lines.entries()) {
      const [what, pid, ...rest] = line.split(' ');
      check(what !== 'unlocked', `line ${index + 1}: ${pid} ran without the lock (failOpen): ${rest.join(' ')}`);
      check(what !== 'foreign', `line ${index + 1}: ${pid} found another PID in the file it held`);
      if (what === 'enter') check(inside === null, `line ${index + 1}: ${pid} entered while ${inside} held the lock`);
      else check(inside === pid, `line ${index + 1}: ${pid} left without holding`);
      inside = what === 'enter' ? pid : null;
    }
    check(lines.length === processes * holds * 2, `${lines.length} journal lines for ${processes * holds} holds`);
    return { holds: processes * holds, refusals: results.reduce((sum, { refused }) => sum + refused, 0) };
  } finally {
    unmount();
  }
}

export async function fuseChurn({ processes, holds }) {
  const reason = unavailable();
  if (reason !== null) return { skipped: reason };
  const { dir, cleanup } = scratch('fuse-churn');
  try {
    const withLinks = await churnOn(dir, { processes, holds, links: true });
    const withoutLinks = await churnOn(dir, { processes, holds, links: false });
    return { links: withLinks, noLinks: withoutLinks };
  } finally {
    cleanup();
  }
}
