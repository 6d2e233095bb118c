// The kernel's own record of flock holders, where the platform shows it (Linux: /proc/locks).
import fs from 'node:fs';
import { flockHolders, procLocksKey, type FlockHolder } from './proc-locks';

const PROC_LOCKS = '/proc/locks';

/** True where /proc/locks can answer; elsewhere callers probe with a lock attempt instead. */
export const kernelListsLocks = process.platform === 'linux';

/** The flock holders of the file (dev, ino), or null when /proc/locks cannot be read. */
export function readFlockHoldersSync(dev: bigint, ino: bigint): FlockHolder[] | null {
  if (!kernelListsLocks) return null;
  let text: string;
  try {
    text = fs.readFileSync(PROC_LOCKS, 'latin1');
  } catch {
    return null;
  }
  return flockHolders(text, procLocksKey(dev, ino));
}

export async function readFlockHolders(dev: bigint, ino: bigint): Promise<FlockHolder[] | null> {
  if (!kernelListsLocks) return null;
  let text: string;
  try {
    text = await fs.promises.readFile(PROC_LOCKS, 'latin1');
  } catch {
    return null;
  }
  return flockHolders(text, procLocksKey(dev, ino));
}

/** The exclusive holder's PID among `holders`, when one is listed with a visible PID. */
export function exclusiveHolderPid(holders: readonly FlockHolder[] | null): number | null {
  return holders?.find((holder) => holder.exclusive)?.pid ?? null;
}
