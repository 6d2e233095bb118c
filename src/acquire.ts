// Taking a PID-file lock: the kernel lock from the addon, and, when it is held by another, the
// holder's PID for the "already running" error.
import { LockedError, withPath } from './errors';
import { exclusiveHolderPid, readFlockHoldersSync } from './kernel-locks';
import { binding } from './native';
import { settleAcquireOptions, type AcquireOptions, type SettledOptions } from './options';
import { PidLock } from './pid-lock';
import { formatPid } from './pid-text';
import { readPidFileSync } from './read-pid';
import { runAsync, runSync, type Steps } from './steps';

/** How long a loser waits for a holder that has locked the file but not yet written its PID. */
export const PID_WRITE_GRACE_MS = 100;
const PID_POLL_MS = 5;

/** How many times to try again when the holder released the file while we were reading it. */
const MAX_ROUNDS = 8;

interface Holder {
  pid: number | null;
  /** The file was gone when we looked: its holder released it. */
  released: boolean;
}

function* findHolder(file: string): Steps<Holder> {
  const deadline = performance.now() + PID_WRITE_GRACE_MS;
  for (;;) {
    const contents = readPidFileSync(file);
    if (contents.kind === 'missing') return { pid: null, released: true };
    if (contents.kind === 'pid') return { pid: contents.pid, released: false };
    // Empty: the holder is between its lock and its write, which takes microseconds unless it
    // is descheduled; give it a bounded grace.
    if (contents.kind === 'empty' && performance.now() < deadline) {
      yield PID_POLL_MS;
      continue;
    }
    // Never written, or not a PID: where the kernel lists lock holders, it names the process.
    const holders = contents.dev === null || contents.ino === null ? null : readFlockHoldersSync(contents.dev, contents.ino);
    return { pid: exclusiveHolderPid(holders), released: false };
  }
}

function* acquireSteps({ path, mode, logger }: SettledOptions): Steps<PidLock> {
  const native = binding();
  const pid = process.pid;
  const text = formatPid(pid);
  for (let round = 1; ; round += 1) {
    let handle;
    try {
      handle = native.lock(path, native.CREATE | native.PIDFILE, text);
    } catch (error) {
      throw withPath(error, path);
    }
    if (handle !== null) {
      logger.debug(`locked ${path} as PID ${pid}`);
      return new PidLock(handle, path, pid, mode, logger);
    }
    const holder = yield* findHolder(path);
    if (holder.released && round < MAX_ROUNDS) continue;
    logger.debug(`${path} is held by PID ${holder.pid ?? 'unknown'}`);
    throw new LockedError(path, holder.pid);
  }
}

/**
 * Takes the lock on the PID file at `path` and records this process's PID in it.
 * Rejects with LockedError (code ELOCKED, with the holder's PID) when another holder has it, and
 * with an error carrying the code and path (ENOENT, EACCES, EISDIR, ELOOP, EROFS, ENOSPC, ...)
 * when the file cannot be locked at all.
 */
export async function acquire(path: string, options?: AcquireOptions): Promise<PidLock> {
  return runAsync(acquireSteps(settleAcquireOptions(path, options, process.env['PIDGUARD_MODE'])));
}

/** acquire(), blocking: for start-up code that must not go on without the lock. */
export function acquireSync(path: string, options?: AcquireOptions): PidLock {
  return runSync(acquireSteps(settleAcquireOptions(path, options, process.env['PIDGUARD_MODE'])));
}
