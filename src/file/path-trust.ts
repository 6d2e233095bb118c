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

/**
 * The first symlink on the way to `file`'s directory that is not to be followed: one neither
 * root nor `selfUid` owns, or a second name of such a link in another user's directory (the rule
 * of native/parent_posix.c).
 */
export function foreignSymlink(file: string, selfUid: number): ForeignSymlink | null {
  let resolved = path.parse(file).root;
  const pending = path.relative(resolved, path.dirname(file)).split(path.sep).filter((part) => part !== '');
  for (let links = 0; pending.length > 0;) {
    const next = path.join(resolved, pending.shift() as string);
    const stat = fs.lstatSync(next);
    if (!stat.isSymbolicLink()) {
      resolved = next;
      continue;
    }
    if (stat.uid !== 0 && stat.uid !== selfUid) return { link: next, uid: stat.uid };
    // A second name of a trusted link, in another user's directory: placed, so aimed, by them.
    const holder = stat.nlink > 1 ? fs.statSync(resolved).uid : 0;
    if (holder !== 0 && holder !== selfUid) return { link: next, uid: holder, hardLinked: true };
    if ((links += 1) > 40) return null;
    const target = fs.readlinkSync(next);
    if (path.isAbsolute(target)) resolved = path.parse(target).root;
    pending.unshift(...target.split('/').filter((part) => part !== ''));
  }
  return null;
}

/** The words of a refusal for such a symlink. */
export function unsafePathDescription(found: ForeignSymlink, selfUid: number): string {
  if (found.hardLinked === true) {
    return `operation not permitted: the path crosses the symlink ${found.link}, a second name of a trusted link, ` +
      `placed in a directory of uid ${found.uid}, not of this user (uid ${selfUid}) or root`;
  }
  return `operation not permitted: the path crosses the symlink ${found.link}, owned by uid ${found.uid}, ` +
    `not by this user (uid ${selfUid}) or root, who could point it anywhere`;
}

/** A directory on the way that another user owns, or may rename entries in. */
export interface ForeignDirectory {
  dir: string;
  uid: number;
  /** Writable by others without the sticky bit: any of them may rename what is in it. */
  writable: boolean;
}

const OTHERS_WRITE = 0o002;
const GROUP_WRITE = 0o020;
const STICKY = 0o1000;

/**
 * The first directory on the way to `file` (its real path) in which another user could swap what
 * pidguard is about to use: one they own, or one they may write that has no sticky bit (a sticky
 * directory such as /tmp lets them remove or rename only their own entries). The addon's walk
 * makes this moot for kernel locks, whose every step is taken from the directory reached; the
 * fallback's steps are path-based calls, each resolved again.
 */
export function foreignDirectory(file: string, self: Credentials): ForeignDirectory | null {
  let dir = fs.realpathSync(path.dirname(file));
  for (;;) {
    const { uid, gid, mode } = fs.lstatSync(dir);
    const sticky = (mode & STICKY) !== 0;
    const writable = !sticky && ((mode & OTHERS_WRITE) !== 0 || ((mode & GROUP_WRITE) !== 0 && gid !== self.gid && gid !== 0));
    if ((uid !== 0 && uid !== self.uid) || writable) return { dir, uid, writable };
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The words of a refusal for such a directory. */
export function foreignDirectoryDescription(found: ForeignDirectory, self: Credentials): string {
  const who = found.writable ? `writable by other users without the sticky bit` : `owned by uid ${found.uid}, not by this user (uid ${self.uid}) or root`;
  return `operation not permitted: the directory ${found.dir} is ${who}, who could swap the PID file's path ` +
    'under the stale-PID fallback, whose steps go by path; use a directory only this user and root can change';
}

/**
 * Refuses (EPERM) a path to `file` that crosses another user's symlink, and with `mkdir` makes
 * the missing directories on the way (mode 0755, less the umask). With `ownDirectories` (the
 * fallback), also one through a directory another user could change (foreignDirectory). Where the
 * platform has no users (Windows) there is nothing to refuse.
 */
export function prepareDirectory(file: string, mkdir: boolean, ownDirectories = false): void {
  const self = currentCredentials();
  if (self !== null) {
    let found: ForeignSymlink | null = null;
    try {
      found = foreignSymlink(file, self.uid);
    } catch (error) {
      // A missing directory is for the mkdir below, or for the caller's own ENOENT.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsErrorFor(error, file);
    }
    if (found !== null) throw pathError('EPERM', unsafePathDescription(found, self.uid), 'open', file);
  }
  if (mkdir) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    } catch (error) {
      throw fsErrorFor(error, file);
    }
  }
  if (self === null || !ownDirectories) return;
  let foreign: ForeignDirectory | null = null;
  try {
    foreign = foreignDirectory(file, self);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsErrorFor(error, file);
  }
  if (foreign !== null) throw pathError('EPERM', foreignDirectoryDescription(foreign, self), 'open', file);
}
