// Linux's /proc/locks: who holds a flock on which file, as the kernel sees it. Pure parsing.
//
// Reading it answers "is this file locked, and by whom" without taking any lock, so a health
// check never makes a concurrent acquirer fail, as a probing lock attempt could.
//
// A line reads: "3: FLOCK  ADVISORY  WRITE 1234 fe:00:2146344 0 EOF", with "->" after the id for
// a waiter that is blocked, not holding. The device is "major:minor" in hex, the inode decimal.
// The device is the file system's (its superblock's): on btrfs that is not the device stat gives
// a file (each subvolume has an anonymous device of its own), so a file has one key by stat and
// possibly another by its mount (see lockKeys).
//
// The PID printed is the process that took the lock, as the reader's PID namespace numbers it
// (0 or -1 when it is not visible there). It is not proof of who holds the lock now: a flock
// belongs to the open file description, which a child may have inherited and kept after the
// locker died (see kernel/holders.ts for the proof).

export interface FlockHolder {
  /** The process that took the lock (a process it forked may hold it now); null when it lives in
   * a PID namespace this process cannot see. */
  pid: number | null;
  exclusive: boolean;
}

/** One lock, as a line of /proc/locks or a "lock:" line of /proc/<pid>/fdinfo/<fd> gives it. */
export interface LockLine {
  /** FLOCK, POSIX, OFDLCK, LEASE, ... */
  lockClass: string;
  /** A waiter that is blocked ("->"), not a holder. */
  blocked: boolean;
  exclusive: boolean;
  /** As in FlockHolder. */
  pid: number | null;
  /** "major:minor:inode" as printed. */
  key: string;
}

function hex2(value: bigint): string {
  return value.toString(16).padStart(2, '0');
}

/** A device as /proc/locks prints it, from its major and minor numbers: "fe:00", "00:27". */
export function deviceKey(major: bigint, minor: bigint): string {
  return `${hex2(major)}:${hex2(minor)}`;
}

/** The file's identity as /proc/locks prints it, from a stat's dev and ino (bigint stats). */
export function procLocksKey(dev: bigint, ino: bigint): string {
  // glibc's gnu_dev_major/minor: the major in bits 8-19 and 32-43, the minor in 0-7 and 20-31.
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${deviceKey(major, minor)}:${ino.toString(10)}`;
}

/**
 * Every key under which the kernel may list a lock on the file: by stat's device, and by the
 * device of the file's mount (`mountDevice`, "major:minor" as deviceKey gives it), which is the
 * one the kernel prints where the two differ (btrfs subvolumes).
 */
export function lockKeys(dev: bigint, ino: bigint, mountDevice: string | null): string[] {
  const byStat = procLocksKey(dev, ino);
  const byMount = mountDevice === null ? null : `${mountDevice}:${ino.toString(10)}`;
  return byMount === null || byMount === byStat ? [byStat] : [byStat, byMount];
}

/** One line of /proc/locks (or the part of a fdinfo "lock:" line after the tab); null if not a lock. */
export function parseLockLine(line: string): LockLine | null {
  const fields = line.trim().split(/\s+/);
  const blocked = fields[1] === '->';
  // id, [->], class, advisory, access, pid, file, start, end
  const [lockClass, , access, pid, key] = fields.slice(blocked ? 2 : 1);
  if (lockClass === undefined || access === undefined || pid === undefined || key === undefined) return null;
  const holderPid = Number(pid);
  return {
    lockClass,
    blocked,
    exclusive: access === 'WRITE',
    pid: Number.isInteger(holderPid) && holderPid > 0 ? holderPid : null,
    key,
  };
}

/** The flock holders (not waiters, not fcntl or OFD locks) of the file listed under any of `keys`. */
export function flockHolders(procLocks: string, keys: readonly string[]): FlockHolder[] {
  const holders: FlockHolder[] = [];
  for (const line of procLocks.split('\n')) {
    const lock = parseLockLine(line);
    if (lock === null || lock.blocked || lock.lockClass !== 'FLOCK' || !keys.includes(lock.key)) continue;
    holders.push({ pid: lock.pid, exclusive: lock.exclusive });
  }
  return holders;
}
