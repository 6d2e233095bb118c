// Which files pidguard may trust as PID files, and the words of a refusal. Pure.
//
// A PID file names the process that `stop` signals and that a loser is told to kill, so whoever
// can write it can aim those at any process. In a shared directory such as /tmp another user can
// create the file before us, or keep it writable; such a file is refused, never adopted (dpkg's
// start-stop-daemon refuses the same files since 1.19.3). The same rule is applied in C by the
// addon (kernel mode) and here (the fallback, and the messages of both).

/** What a stat says of a file's owner and permissions. */
export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
  nlink: number;
}

/** The effective user and group of this process. */
export interface Credentials {
  uid: number;
  gid: number;
}

export type Distrust =
  | { kind: 'owner'; uid: number }
  | { kind: 'writable'; by: 'others' | 'group'; gid: number }
  | { kind: 'links'; nlink: number };

const OTHERS_WRITE = 0o002;
const GROUP_WRITE = 0o020;

/**
 * Why a file may not be trusted as a PID file by a process with `self`'s credentials, or null
 * when it may: owned by that user or root, writable by no other user (others, or a group that is
 * neither the process's nor root's), and, when `checkLinks`, reached by one name only (a second
 * hard link would make pidguard truncate and write a file it was never pointed at).
 */
export function distrust(file: Ownership, self: Credentials, checkLinks: boolean): Distrust | null {
  if (file.uid !== self.uid && file.uid !== 0) return { kind: 'owner', uid: file.uid };
  if ((file.mode & OTHERS_WRITE) !== 0) return { kind: 'writable', by: 'others', gid: file.gid };
  if ((file.mode & GROUP_WRITE) !== 0 && file.gid !== self.gid && file.gid !== 0)
    return { kind: 'writable', by: 'group', gid: file.gid };
  if (checkLinks && file.nlink > 1) return { kind: 'links', nlink: file.nlink };
  return null;
}

/** The description of a refusal, for an EPERM error naming the path. */
export function distrustDescription(reason: Distrust, self: Credentials): string {
  switch (reason.kind) {
    case 'owner':
      return (
        `operation not permitted: the PID file is owned by uid ${reason.uid}, not by this user (uid ${self.uid}) or root, ` +
        'so another user could write any PID into it; remove it, or use a directory only this user can write'
      );
    case 'writable':
      return (
        `operation not permitted: the PID file is writable by ${reason.by === 'others' ? 'all users' : `group ${reason.gid}`}, ` +
        'so another user could write any PID into it; remove it or chmod go-w it'
      );
    case 'links':
      return `operation not permitted: the PID file has ${reason.nlink} hard links, so writing it would change another file too; remove that link`;
  }
}

/** The credentials of this process, where the platform has them (not on Windows). */
export function currentCredentials(): Credentials | null {
  if (typeof process.geteuid !== 'function' || typeof process.getegid !== 'function') return null;
  return { uid: process.geteuid(), gid: process.getegid() };
}
