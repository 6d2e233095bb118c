// The words of an EPERM refusal from the addon (a PID file or a path another user could have
// written), with the facts that make it actionable: who owns what. The addon only says which
// rule refused; this looks again, for the message alone, at what it refused.
import fs from 'node:fs';
import path from 'node:path';
import { pathError, withPath, type LockSystemError } from './errors';
import { isNativeError, NativeErrno } from './native';
import { currentCredentials, distrust, distrustDescription } from './trust';

/** The first symlink on the way to `file` that root or this user does not own, with its owner. */
function foreignSymlink(file: string, selfUid: number): { link: string; uid: number } | null {
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

function describe(errno: number, file: string): string | null {
  const self = currentCredentials();
  if (self === null) return null;
  if (errno === NativeErrno.untrusted) {
    const stat = fs.lstatSync(file);
    const reason = distrust({ uid: stat.uid, gid: stat.gid, mode: stat.mode, nlink: stat.nlink }, self, true);
    return reason === null ? null : distrustDescription(reason, self);
  }
  if (errno === NativeErrno.unsafePath) {
    const found = foreignSymlink(file, self.uid);
    if (found === null) return null;
    return `operation not permitted: the path crosses the symlink ${found.link}, owned by uid ${found.uid}, ` +
      `not by this user (uid ${self.uid}) or root, who could point it anywhere`;
  }
  return null;
}

/**
 * withPath(), and for the addon's refusals of untrusted files and paths, a message saying who
 * owns what (the file may have changed since; then the addon's own words stand).
 */
export function lockError(error: unknown, file: string): unknown {
  if (!isNativeError(error) || (error.errno !== NativeErrno.untrusted && error.errno !== NativeErrno.unsafePath)) {
    return withPath(error, file);
  }
  let description: string | null;
  try {
    description = describe(error.errno, file);
  } catch {
    description = null;
  }
  if (description === null) return withPath(error, file);
  const refusal: LockSystemError = pathError(error.code, description, error.syscall, file);
  refusal.errno = error.errno;
  return refusal;
}
