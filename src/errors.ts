// The errors pidguard throws, and the words in them. Pure: no I/O.
import os from 'node:os';
import { isNativeError } from './addon/binding';

/** How to stop process `pid` on `platform`, as a command an operator can paste. */
export function stopCommand(pid: number, platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? `taskkill /PID ${pid}` : `kill ${pid}`;
}

/**
 * What is known of a holder that could not be named with certainty, for the words of a refusal:
 * the PID the file records and whether it holds the lock (null: could not be told), and the
 * kernel's record of the process that took the lock where it could not be checked.
 */
export interface HolderDoubt {
  recordedPid: number | null;
  recordedPidHolds: boolean | null;
  uncheckedPid: number | null;
}

/** What the file's PID is, when it is not the holder named. */
function recordedWords(doubt: HolderDoubt): string | null {
  const { recordedPid, recordedPidHolds } = doubt;
  if (recordedPid === null || recordedPidHolds === true) return null;
  return recordedPidHolds === false
    ? `the file names PID ${recordedPid}, which does not hold the lock`
    : `the file names PID ${recordedPid}, which this process cannot check`;
}

/** The lock's holder, when it could not be named: what is known instead, in one clause. */
export function unnamedHolder(path: string, doubt: HolderDoubt): string {
  const recorded = recordedWords(doubt);
  if (doubt.uncheckedPid !== null) {
    const took = `${path} is locked by another process: PID ${doubt.uncheckedPid} took the lock, but this process cannot check that it still holds it`;
    return recorded === null ? took : `${took}; ${recorded}`;
  }
  if (recorded !== null) return `${path} is locked by another process, which could not be named: ${recorded}`;
  return `${path} is locked by another process, which has not recorded its PID in the file`;
}

/**
 * The "already running" message of a refused acquire. `pid` is a holder proven (or, where
 * nothing proves one, trusted); `doubt` says what else is known, and why the file's PID is not it.
 */
export function lockedMessage(
  path: string,
  pid: number | null,
  selfPid: number = process.pid,
  doubt: HolderDoubt | null = null,
): string {
  if (pid === null)
    return unnamedHolder(path, doubt ?? { recordedPid: null, recordedPidHolds: null, uncheckedPid: null });
  if (pid === selfPid) {
    return `${path} is already locked by this process (PID ${pid}); release that lock before taking it again`;
  }
  const recorded = doubt === null || doubt.recordedPid === pid ? null : recordedWords(doubt);
  const aside = recorded === null ? '' : ` (${recorded})`;
  return `${path} is locked: already running as PID ${pid}${aside}. To stop it: ${stopCommand(pid)}`;
}

/**
 * The "already running" message of a lock held on another host, or by another session of this
 * one (pidguard/postgres): `target` names the lock (postgres:nightly), `host` the holder's host.
 * `self`: whether the holder is this process, or the PID and host that would say so.
 */
export function remoteLockedMessage(
  target: string,
  pid: number | null,
  host: string | null,
  self: boolean | { pid: number; host: string } = { pid: process.pid, host: os.hostname() },
): string {
  if (pid === null || host === null) return `${target} is locked by a session that has not recorded its holder`;
  if (typeof self === 'boolean' ? self : pid === self.pid && host === self.host) {
    return `${target} is already locked by this process (PID ${pid} on ${host}); release that lock before taking it again`;
  }
  return `${target} is locked: already running as PID ${pid} on ${host}. To stop it: pidguard stop ${target} (or on ${host}: ${stopCommand(pid)})`;
}

/**
 * Thrown when another holder has the lock. `pid` is the holder's PID, when it could be told: for a
 * PID file on Linux only a process proven to hold the lock, with `doubt` (for the message) saying
 * what else is known; `host` the holder's host name for a lock across hosts (pidguard/postgres),
 * null for a PID file (whose holder is on this host).
 */
/** What else a LockedError knows: why no PID was named (a PID file), or the holder's host (across hosts). */
export interface LockedContext {
  doubt?: HolderDoubt | null;
  /** Present for a lock across hosts: the holder's host, null when it was not recorded. */
  host?: string | null;
  /** Across hosts: whether the holder is this process, when known otherwise than by PID and host (two containers may share both). */
  thisProcess?: boolean;
}

export class LockedError extends Error {
  readonly code = 'ELOCKED' as const;
  readonly path: string;
  readonly pid: number | null;
  readonly host: string | null;

  constructor(path: string, pid: number | null, context: LockedContext = {}) {
    super(
      'host' in context
        ? remoteLockedMessage(path, pid, context.host ?? null, context.thisProcess)
        : lockedMessage(path, pid, process.pid, context.doubt ?? null),
    );
    this.name = 'LockedError';
    this.path = path;
    this.pid = pid;
    this.host = context.host ?? null;
  }
}

/** The shape of every other error pidguard throws: Node's own fs errors' shape. */
export interface LockSystemError extends Error {
  code: string;
  path: string;
  syscall?: string;
  errno?: number;
}

const HINTS: Readonly<Record<string, string>> = {
  ELOOP: ' (a symlink stands at the path, and pidguard does not follow it there: it could point at any file)',
};

/**
 * Gives an error from the addon or from node:fs the path it concerns, in Node's own style:
 * "EACCES: permission denied, open '/run/app.pid'". Anything else is returned unchanged.
 */
export function withPath(error: unknown, path: string): unknown {
  if (!isNativeError(error) || 'path' in error) return error;
  const description = error.message.charAt(0).toLowerCase() + error.message.slice(1);
  const hint = HINTS[error.code] ?? '';
  const wrapped = new Error(`${error.code}: ${description}, ${error.syscall} '${path}'${hint}`) as LockSystemError;
  wrapped.code = error.code;
  wrapped.errno = error.errno;
  wrapped.syscall = error.syscall;
  wrapped.path = path;
  return wrapped;
}

/** An invalid argument, as Node's own API reports one. */
export function invalidArgument(message: string): TypeError & { code: string } {
  const error = new TypeError(message) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/**
 * A node:fs error met on the way to `path` (on a temporary file beside it, say) restated for
 * `path` itself, in the same shape as withPath's: "EACCES: permission denied, open '/run/app.pid'".
 */
export function fsErrorFor(error: unknown, path: string): unknown {
  const cause = error as NodeJS.ErrnoException;
  if (!(error instanceof Error) || typeof cause.code !== 'string' || typeof cause.syscall !== 'string') return error;
  const description = /^\w+: (.*?), \w+/.exec(cause.message)?.[1] ?? cause.message;
  const wrapped = new Error(`${cause.code}: ${description}, ${cause.syscall} '${path}'`) as LockSystemError;
  wrapped.code = cause.code;
  if (cause.errno !== undefined) wrapped.errno = cause.errno;
  wrapped.syscall = cause.syscall;
  wrapped.path = path;
  return wrapped;
}

/** An error of pidguard's own about `path`, in the shape of the system's. */
export function pathError(code: string, description: string, syscall: string, path: string): LockSystemError {
  const error = new Error(`${code}: ${description}, ${syscall} '${path}'${HINTS[code] ?? ''}`) as LockSystemError;
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}

/** What an aborted call rejects with: the signal's reason, or an AbortError as fetch() gives. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Whether an error says the file system has no locks to give (an NFS mount without a lock
 * manager, some FUSE and SMB mounts): the cue for mode 'auto' to use the stale-PID fallback.
 */
export function refusesLocks(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOLCK' || code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'ENOSYS';
}
