// The directories on the way to a PID file, seen from JavaScript: another user's symlink on the
// way is refused, and missing directories are made (mkdir -p). The addon does the same for
// kernel locks without the races that looking first leaves (native/parent_posix.c); this serves
// the fallback, whose every step is a path-based call, and the addon's messages.
import fs from 'node:fs';
import path from 'node:path';
import { fsErrorFor, pathError } from './errors';
import { currentCredentials } from './trust';

/** The first symlink on the way to `file`'s directory that neither root nor `selfUid` owns. */
export function foreignSymlink(file: string, selfUid: number): { link: string; uid: number } | null {
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
    if ((links += 1) > 40) return null;
    const target = fs.readlinkSync(next);
    if (path.isAbsolute(target)) resolved = path.parse(target).root;
    pending.unshift(...target.split('/').filter((part) => part !== ''));
  }
  return null;
}

/** The words of a refusal for such a symlink. */
export function unsafePathDescription(found: { link: string; uid: number }, selfUid: number): string {
  return `operation not permitted: the path crosses the symlink ${found.link}, owned by uid ${found.uid}, ` +
    `not by this user (uid ${selfUid}) or root, who could point it anywhere`;
}

/**
 * Refuses (EPERM) a path to `file` that crosses another user's symlink, and with `mkdir` makes
 * the missing directories on the way (mode 0755, less the umask). Where the platform has no users
 * (Windows) there is nothing to refuse.
 */
export function prepareDirectory(file: string, mkdir: boolean): void {
  const self = currentCredentials();
  if (self !== null) {
    let found: { link: string; uid: number } | null = null;
    try {
      found = foreignSymlink(file, self.uid);
    } catch (error) {
      // A missing directory is for the mkdir below, or for the caller's own ENOENT.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsErrorFor(error, file);
    }
    if (found !== null) throw pathError('EPERM', unsafePathDescription(found, self.uid), 'open', file);
  }
  if (!mkdir) return;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  } catch (error) {
    throw fsErrorFor(error, file);
  }
}
