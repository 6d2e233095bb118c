// The directories on the way to a PID file, seen from JavaScript: another user's symlink on the
// way is refused, and missing directories are made (mkdir -p). The addon does the same for
// kernel locks without the races that looking first leaves (native/parent_posix.c); this serves
// the fallback, whose every step is a path-based call, and the addon's messages.
import fs from 'node:fs';
import path from 'node:path';
import { fsErrorFor, pathError } from '../errors';
import { currentCredentials, type Credentials } from './trust';

/** A symlink on the way that another user owns, or has placed: `uid` is theirs. */
export interface ForeignSymlink {
  link: string;
  uid: number;
  /** Root's or this user's link, hard-linked into that user's directory. */
  hardLinked?: true;
}

const OTHERS_WRITE = 0o002;
const GROUP_WRITE = 0o020;
const STICKY = 0o1000;

/** A directory on the way that another user owns, or may rename entries in. */
export interface ForeignDirectory {
  dir: string;
  uid: number;
  /** Writable by others without the sticky bit: any of them may rename what is in it. */
  writable: boolean;
}

type Unsafe = ({ kind: 'symlink' } & ForeignSymlink) | ({ kind: 'directory' } & ForeignDirectory);

/** Whether another user could swap the entries of a directory with this stat. */
function foreignDir(stat: fs.Stats, self: Credentials): { uid: number; writable: boolean } | null {
  const sticky = (stat.mode & STICKY) !== 0;
  const writable =
    !sticky &&
    ((stat.mode & OTHERS_WRITE) !== 0 || ((stat.mode & GROUP_WRITE) !== 0 && stat.gid !== self.gid && stat.gid !== 0));
  return (stat.uid !== 0 && stat.uid !== self.uid) || writable ? { uid: stat.uid, writable } : null;
}

/**
 * The first step on the way to `file`'s directory that is not to be taken, in one walk over the
 * path as given, each component looked at (lstat) before it is gone through: a symlink neither
 * root nor this user owns, or a second name of such a link in another user's directory (the rule
 * of native/parent_posix.c); and with `ownDirectories`, a directory another user owns or may
 * write without the sticky bit (a sticky directory such as /tmp lets them remove or rename only
 * their own entries). One walk, not one per rule: two walks could each see a different state of
 * a path that another user is swapping between them.
 */
function unsafeStep(file: string, self: Credentials, ownDirectories: boolean): Unsafe | null {
  let resolved = path.parse(file).root;
  const pending = path
    .relative(resolved, path.dirname(file))
    .split(path.sep)
    .filter((part) => part !== '');
  const checkDir = (dir: string): Unsafe | null => {
    if (!ownDirectories) return null;
    const found = foreignDir(fs.lstatSync(dir), self);
    return found === null ? null : { kind: 'directory', dir, ...found };
  };
  let unsafe = checkDir(resolved);
  for (let links = 0; unsafe === null && pending.length > 0;) {
    const next = path.join(resolved, pending.shift() as string);
    const stat = fs.lstatSync(next);
    if (!stat.isSymbolicLink()) {
      resolved = next;
      unsafe = checkDir(next);
      continue;
    }
    if (stat.uid !== 0 && stat.uid !== self.uid) return { kind: 'symlink', link: next, uid: stat.uid };
    // A second name of a trusted link, in another user's directory: placed, so aimed, by them.
    const holder = stat.nlink > 1 ? fs.statSync(resolved).uid : 0;
    if (holder !== 0 && holder !== self.uid) return { kind: 'symlink', link: next, uid: holder, hardLinked: true };
    if ((links += 1) > 40) return null;
    const target = fs.readlinkSync(next);
    if (path.isAbsolute(target)) {
      resolved = path.parse(target).root;
      unsafe = checkDir(resolved);
    }
    pending.unshift(...target.split('/').filter((part) => part !== ''));
  }
  return unsafe;
}

/** The first symlink on the way to `file`'s directory that is not to be followed (unsafeStep). */
export function foreignSymlink(file: string, selfUid: number): ForeignSymlink | null {
  const self = currentCredentials();
  const found = unsafeStep(file, { uid: selfUid, gid: self?.gid ?? 0 }, false);
  return found?.kind === 'symlink' ? found : null;
}

/** The words of a refusal for such a symlink. */
export function unsafePathDescription(found: ForeignSymlink, selfUid: number): string {
  if (found.hardLinked === true) {
    return (
      `operation not permitted: the path crosses the symlink ${found.link}, a second name of a trusted link, ` +
      `placed in a directory of uid ${found.uid}, not of this user (uid ${selfUid}) or root`
    );
  }
  return (
    `operation not permitted: the path crosses the symlink ${found.link}, owned by uid ${found.uid}, ` +
    `not by this user (uid ${selfUid}) or root, who could point it anywhere`
  );
}

/** The words of a refusal for such a directory. */
export function foreignDirectoryDescription(found: ForeignDirectory, self: Credentials): string {
  const who = found.writable
    ? `writable by other users without the sticky bit`
    : `owned by uid ${found.uid}, not by this user (uid ${self.uid}) or root`;
  return (
    `operation not permitted: the directory ${found.dir} is ${who}, who could swap the PID file's path ` +
    'under the stale-PID fallback, whose steps go by path; use a directory only this user and root can change'
  );
}

/**
 * Refuses (EPERM) a path to `file` that crosses another user's symlink, and with `mkdir` makes
 * the missing directories on the way (mode 0755, less the umask). With `ownDirectories` (the
 * fallback), also one through a directory another user could change (unsafeStep). Where the
 * platform has no users (Windows) there is nothing to refuse.
 */
export function prepareDirectory(file: string, mkdir: boolean, ownDirectories = false): void {
  const self = currentCredentials();
  const refuse = (): void => {
    if (self === null) return;
    let found: Unsafe | null = null;
    try {
      found = unsafeStep(file, self, ownDirectories);
    } catch (error) {
      // A missing directory is for the mkdir below, or for the caller's own ENOENT.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsErrorFor(error, file);
    }
    if (found?.kind === 'symlink') throw pathError('EPERM', unsafePathDescription(found, self.uid), 'open', file);
    if (found?.kind === 'directory') throw pathError('EPERM', foreignDirectoryDescription(found, self), 'open', file);
  };
  refuse();
  if (!mkdir) return;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  } catch (error) {
    throw fsErrorFor(error, file);
  }
  refuse(); // and the directories just made, through whatever led to them
}
