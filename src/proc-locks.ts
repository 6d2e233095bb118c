// Linux's /proc/locks: who holds a flock on which file, as the kernel sees it. Pure parsing.
//
// Reading it answers "is this file locked, and by whom" without taking any lock, so a health
// check never makes a concurrent acquirer fail, as a probing lock attempt could.
//
// A line reads: "3: FLOCK  ADVISORY  WRITE 1234 fe:00:2146344 0 EOF", with "->" after the id for
// a waiter that is blocked, not holding. The device is "major:minor" in hex, the inode decimal.

export interface FlockHolder {
  /** The process that took the lock (a process it forked may hold it now); null when it lives in
   * a PID namespace this process cannot see. */
  pid: number | null;
  exclusive: boolean;
}

/** The file's identity as /proc/locks prints it, from a stat's dev and ino (bigint stats). */
export function procLocksKey(dev: bigint, ino: bigint): string {
  // glibc's gnu_dev_major/minor: the major in bits 8-19 and 32-43, the minor in 0-7 and 20-31.
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${hex2(major)}:${hex2(minor)}:${ino.toString(10)}`;
}

function hex2(value: bigint): string {
  return value.toString(16).padStart(2, '0');
}

/** The flock holders (not waiters, not fcntl or OFD locks) of the file with `key`. */
export function flockHolders(procLocks: string, key: string): FlockHolder[] {
  const holders: FlockHolder[] = [];
  for (const line of procLocks.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === '->') continue;
    // id, class, advisory, access, pid, file, start, end
    const [, lockClass, , access, pid, file] = fields;
    if (lockClass !== 'FLOCK' || file !== key || pid === undefined) continue;
    const holderPid = Number(pid);
    holders.push({ pid: Number.isInteger(holderPid) && holderPid > 0 ? holderPid : null, exclusive: access === 'WRITE' });
  }
  return holders;
}
