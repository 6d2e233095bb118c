// The words of an EPERM refusal from the addon (a PID file or a path another user could have
// written), with the facts that make it actionable: who owns what. The addon only says which
// rule refused; this looks again, for the message alone, at what it refused.
import fs from 'node:fs';
import { pathError, withPath, type LockSystemError } from '../errors';
import { isNativeError, NativeErrno } from '../addon/binding';
import { foreignSymlink, unsafePathDescription } from './path-trust';
import { currentCredentials, distrust, distrustDescription } from './trust';

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
    return found === null ? null : unsafePathDescription(found, self.uid);
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
