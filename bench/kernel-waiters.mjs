// How many processes the kernel lists as blocked waiting for a flock on a file (/proc/locks "->"
// lines for its inode): a benchmark starts its clock only once its waiters really wait.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export async function untilBlocked(file, count = 1) {
  const { ino } = fs.statSync(file, { bigint: true });
  const suffix = `:${ino} 0 EOF`;
  const blocked = () => fs.readFileSync('/proc/locks', 'utf8').split('\n').filter((l) => l.includes('->') && l.trim().endsWith(suffix)).length;
  for (let i = 0; blocked() < count; i += 1) {
    if (i > 5000) throw new Error(`no waiter blocked on ${file}`);
    await sleep(1);
  }
}

/** Lets a waiter that polls settle into its retry loop, or waits for one that blocks in the kernel. */
export async function untilWaiting(peer, file) {
  if (peer.blocksInKernel) await untilBlocked(file);
  else await sleep(30);
}
