// Linux's /proc/<pid>/fdinfo/<fd> and /proc/self/mountinfo: which locks a descriptor holds, and
// the device of the mount a descriptor's file is on. Pure parsing.
//
// A fdinfo file reads "pos:\t0\nflags:\t0100002\nmnt_id:\t27\nino:\t2146627\n", then one
// "lock:\t1: FLOCK  ADVISORY  WRITE 1234 fe:00:2146627 0 EOF" line per lock held through that
// descriptor's open file description (for flock: by every descriptor sharing it, in whichever
// process). That is what proves a process holds a lock; /proc/locks only names who took it.
import { deviceKey, parseLockLine, type LockLine } from './proc-locks';

/** The locks held through the descriptor whose fdinfo is `text`. */
export function fdinfoLocks(text: string): LockLine[] {
  const locks: LockLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('lock:')) continue;
    const lock = parseLockLine(line.slice('lock:'.length));
    if (lock !== null) locks.push(lock);
  }
  return locks;
}

/** The id of the mount the descriptor's file is on (its "mnt_id:" line); null when not given. */
export function fdinfoMountId(text: string): number | null {
  const match = /^mnt_id:\s*(\d+)\s*$/m.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/**
 * The device of mount `mountId`, as /proc/locks prints devices ("00:27"), from mountinfo's
 * "36 35 0:39 / /mnt rw - btrfs /dev/loop0 rw": the mount id, its parent's, then major:minor in
 * decimal. That is the file system's own device, which on btrfs is not the one stat gives.
 */
export function mountDevice(mountinfo: string, mountId: number): string | null {
  const id = String(mountId);
  for (const line of mountinfo.split('\n')) {
    const [first, , device] = line.split(' ');
    if (first !== id || device === undefined) continue;
    const match = /^(\d+):(\d+)$/.exec(device);
    if (match?.[1] === undefined || match[2] === undefined) return null;
    return deviceKey(BigInt(match[1]), BigInt(match[2]));
  }
  return null;
}
