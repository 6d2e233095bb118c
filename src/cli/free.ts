// Waiting until nobody holds a PID file's lock, for `stop` and `wait`.
import fs from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { LockedError } from '../errors';
import { inspect } from '../inspect';
import { lock } from '../acquire';
import { binding, ProbeState } from '../addon/binding';
import type { LockStatus } from '../status';

/** How often to look again at a fallback (mode 'pidfile') holder, which has no lock to wait on. */
const FALLBACK_POLL_MS = 25;

/** The inode number Linux gives the first PID namespace (PROC_PID_INIT_INO in linux/proc_ns.h). */
const INITIAL_PID_NAMESPACE = 'pid:[4026531836]';

let complete: boolean | undefined;

/**
 * Whether /proc/locks lists every flock: in the first PID namespace it prints each lock's taker
 * as recorded, even one that has ended. Elsewhere (in a container) it leaves out the locks whose
 * taker has ended or cannot be seen from there. Not known (no /proc/self): assumed incomplete.
 */
function procLocksComplete(): boolean {
  if (complete === undefined) {
    try {
      complete = fs.readlinkSync('/proc/self/ns/pid') === INITIAL_PID_NAMESPACE;
    } catch {
      complete = false;
    }
  }
  return complete;
}

/**
 * Whether a file inspect() found free on Linux is locked all the same: outside the first PID
 * namespace (in a container) /proc/locks leaves out a lock whose taker has ended (a SIGKILLed
 * `pidguard run` whose command still runs) or cannot be seen from there. Asked there, and only
 * there, with a brief shared lock attempt, as the waiting below takes shared locks: by `status`,
 * `stop` and `wait`, never by inspect(). A pidguard acquirer refused by that attempt finds no
 * exclusive holder and tries again; flock(1) -n in that instant would be refused.
 */
export function lockedUnlisted(found: LockStatus): boolean {
  if (found.locked || !found.exists || found.mode !== 'kernel' || found.checkedBy !== 'proc-locks') return false;
  if (procLocksComplete()) return false;
  try {
    return binding().probe(found.path) === ProbeState.Locked;
  } catch {
    return false; // gone, or not a file to lock: nothing holds it
  }
}

/**
 * Resolves true once no exclusive holder has the lock on `file` (or the file is gone), false
 * when `timeoutMs` ends first. Each round asks inspect() (which takes no lock on Linux) and, while
 * the file is held, blocks in the kernel on a shared lock, which is granted the moment the holder
 * lets go and is given back at once. A fallback holder has no kernel lock: it is polled.
 */
export async function waitUntilFree(file: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await inspect(file);
    if (!status.locked && !lockedUnlisted(status)) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    if (status.mode === 'pidfile') {
      await delay(Math.min(left, FALLBACK_POLL_MS));
      continue;
    }
    try {
      const shared = await lock(status.path, { shared: true, wait: left });
      shared.release();
    } catch (error) {
      if (error instanceof LockedError) return false; // still held when the time ran out
      // The holder removed the file as it released it; the next round looks again.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
