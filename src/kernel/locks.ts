// The kernel's own record of flock holders, where the platform shows it (Linux: /proc/locks).
import fs from 'node:fs';
import { flockHolders, lockKeys, type FlockHolder } from './proc-locks';
import type { PidFileContents } from '../file/read';

const PROC_LOCKS = '/proc/locks';

/** True where /proc/locks can answer; elsewhere callers probe with a lock attempt instead. */
const kernelListsLocks = process.platform === 'linux';

/** A file as the kernel's lock listings know it: its stat identity, and the keys they print it under. */
export interface LockedFile {
  dev: bigint;
  ino: bigint;
  keys: readonly string[];
}

/** The file read into `contents` as the lock listings know it; null when there is no file to know. */
export function lockedFile(contents: PidFileContents): LockedFile | null {
  if (contents.kind === 'missing' || contents.dev === null || contents.ino === null) return null;
  const { dev, ino } = contents;
  return { dev, ino, keys: lockKeys(dev, ino, contents.mountDevice) };
}

/** The flock holders of `file`, or null when /proc/locks cannot be read. */
export function readFlockHoldersSync(file: LockedFile): FlockHolder[] | null {
  if (!kernelListsLocks) return null;
  let text: string;
  try {
    text = fs.readFileSync(PROC_LOCKS, 'latin1');
  } catch {
    return null;
  }
  return flockHolders(text, file.keys);
}

export async function readFlockHolders(file: LockedFile): Promise<FlockHolder[] | null> {
  if (!kernelListsLocks) return null;
  let text: string;
  try {
    text = await fs.promises.readFile(PROC_LOCKS, 'latin1');
  } catch {
    return null;
  }
  return flockHolders(text, file.keys);
}
