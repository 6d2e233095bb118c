// Taking a kernel lock: at once, or waiting on a native thread; and, when another holder keeps
// it, that holder's PID for the "already running" error.
import { abortReason, LockedError, withPath } from './errors';
import type { NamedHolder } from './holder-proof';
import { lockedFile, readFlockHoldersSync } from './kernel-locks';
import { kernelHolder } from './lock-holders';
import { binding, type Binding, type NativeError, type NativeHandle } from './native';
import type { SettledOptions } from './options';
import { KernelHolding } from './kernel-holding';
import { PidLock } from './pid-lock';
import { formatPid } from './pid-text';
import { runProcSync } from './proc-io';
import { readPidFileSync } from './read-pid';
import { runAsync, runSync, type Steps } from './steps';

/** How long a loser waits for a holder that has locked the file but not yet written its PID. */
export const PID_WRITE_GRACE_MS = 100;
const PID_POLL_MS = 5;

/** How many times to try again when the holder released the file while we were reading it. */
const MAX_ROUNDS = 8;

interface Holder {
  /** The holder as far as it could be named (see holder-proof.ts). */
  named: NamedHolder;
  /** The file was gone, or unlocked, when we looked: its holder released it. */
  released: boolean;
}

const NOBODY: NamedHolder = { locked: false, pid: null, proof: null, recordedPid: null, recordedPidHolds: null };

/**
 * Who holds the file we were just refused. The refusal itself says it is locked, so where the
 * kernel's listing cannot be read the holder is still looked for; a listing with no exclusive
 * holder means the holder let go while we looked.
 */
function* findHolder(file: string): Steps<Holder> {
  const deadline = performance.now() + PID_WRITE_GRACE_MS;
  for (;;) {
    const contents = readPidFileSync(file, true);
    if (contents.kind === 'missing') return { named: NOBODY, released: true };
    // Empty: the holder is between its lock and its write, which takes microseconds unless it
    // is descheduled; give it a bounded grace.
    if (contents.kind === 'empty' && performance.now() < deadline) {
      yield PID_POLL_MS;
      continue;
    }
    // A PID is named only when proven to hold the lock (Linux): a PID left by a SIGKILLed
    // holder may have been reused, and one written in another PID namespace names another
    // process here. Never written, not a PID, or not the holder: the kernel's record, proven,
    // names the process. One SIGKILLed between its create and its write leaves an empty file
    // and no lock: try the lock again.
    const identity = lockedFile(contents);
    const listed = identity === null ? null : readFlockHoldersSync(identity);
    const named = runProcSync(kernelHolder(contents, identity, listed, true));
    return { named, released: !named.locked };
  }
}

/** The refusal: naming only a holder proven (or, where nothing proves one, trusted). */
function lockedError(path: string, { pid, proof, recordedPid, recordedPidHolds }: NamedHolder): LockedError {
  const named = proof === 'fd' || proof === 'pid-file' ? pid : null;
  const uncheckedPid = proof === 'proc-locks' ? pid : null;
  return new LockedError(path, named, { recordedPid, recordedPidHolds, uncheckedPid });
}

/** What one kind of lock asks of the addon. */
interface LockRequest {
  settled: SettledOptions;
  flags: number;
  /** The PID text to write, for an exclusive PID-file lock. */
  text: string | null;
}

/** A PID file (created, and written unless shared) or any other file (left as it is). */
export type FileKind = 'pidfile' | 'plain';

function request(native: Binding, settled: SettledOptions, kind: FileKind): LockRequest {
  if (kind === 'plain') {
    const flags = (settled.create ? native.CREATE : 0) | (settled.shared ? native.SHARED : 0);
    return { settled, flags, text: null };
  }
  const flags = native.CREATE | (settled.shared ? native.SHARED : native.PIDFILE);
  return { settled, flags, text: settled.shared ? null : formatPid(process.pid) };
}

function wrap(native: Binding, { settled, text }: LockRequest, handle: NativeHandle): PidLock {
  const { path, shared, logger } = settled;
  logger.debug(`locked ${path}${shared ? ' (shared)' : ''} as PID ${process.pid}`);
  return new PidLock(new KernelHolding(native, handle, path, text !== null), path, 'kernel', shared, logger);
}

function tryLock(native: Binding, { settled: { path }, flags, text }: LockRequest): NativeHandle | null {
  try {
    return native.lock(path, flags, text);
  } catch (error) {
    throw withPath(error, path);
  }
}

/** Tries without waiting; on contention, finds the holder and throws LockedError. */
function* lockNow(native: Binding, request: LockRequest): Steps<PidLock> {
  const { path, logger } = request.settled;
  for (let round = 1; ; round += 1) {
    const handle = tryLock(native, request);
    if (handle !== null) return wrap(native, request, handle);
    const holder = yield* findHolder(path);
    if (holder.released && round < MAX_ROUNDS) continue;
    const error = lockedError(path, holder.named);
    logger.debug(`${path} is held by PID ${error.pid ?? 'unknown'}`);
    throw error;
  }
}

/**
 * Waits on a native thread until granted, timed out (null) or aborted (rejects with the signal's
 * reason). The thread sits in the blocking lock call: it wakes the moment the kernel grants it.
 */
function waitAsync(native: Binding, { settled, flags, text }: LockRequest, waitMs: number): Promise<NativeHandle | null> {
  const { path, signal } = settled;
  return new Promise((resolve, reject) => {
    let ending: 'timeout' | 'abort' | null = null;
    let timer: NodeJS.Timeout | undefined;
    const done = (error: NativeError | null, handle: NativeHandle | null): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (handle !== null && ending === 'abort') {
        // Granted just as the caller gave up: give it back. This runs from the addon's callback,
        // where a throw would be uncaught, so a failed removal is only reported.
        try {
          native.unlock(handle, text !== null);
        } catch (unlockError) {
          settled.logger.warn(`could not remove ${path} after an aborted wait: ${(withPath(unlockError, path) as Error).message}`);
        }
        reject(abortReason(signal as AbortSignal));
      } else if (handle !== null) {
        resolve(handle); // granted, even if in the same moment as the timeout
      } else if (error?.code === 'ECANCELED') {
        if (ending === 'abort') reject(abortReason(signal as AbortSignal));
        else resolve(null);
      } else {
        reject(withPath(error, path));
      }
    };
    const ticket = native.wait(path, flags, text, done);
    const onAbort = (): void => {
      ending = 'abort';
      native.cancelWait(ticket);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(waitMs)) {
      timer = setTimeout(() => {
        ending ??= 'timeout';
        native.cancelWait(ticket);
      }, waitMs);
    }
  });
}

async function take(native: Binding, request: LockRequest): Promise<PidLock> {
  const { path, waitMs, signal } = request.settled;
  if (signal?.aborted === true) throw abortReason(signal);
  if (waitMs === 0) return runAsync(lockNow(native, request));
  const handle = tryLock(native, request) ?? (await waitAsync(native, request, waitMs));
  if (handle !== null) return wrap(native, request, handle);
  // Timed out: one last try, which also names the holder.
  request.settled.logger.debug(`gave up waiting for ${path} after ${waitMs} ms`);
  return runAsync(lockNow(native, request));
}

function takeSync(native: Binding, request: LockRequest): PidLock {
  const { path, waitMs } = request.settled;
  if (waitMs === 0) return runSync(lockNow(native, request));
  let handle = tryLock(native, request);
  if (handle === null) {
    try {
      handle = native.waitSync(path, request.flags, request.text, Number.isFinite(waitMs) ? waitMs : -1);
    } catch (error) {
      throw withPath(error, path);
    }
  }
  if (handle !== null) return wrap(native, request, handle);
  request.settled.logger.debug(`gave up waiting for ${path} after ${waitMs} ms`);
  return runSync(lockNow(native, request));
}

/** Takes the kernel lock: at once, or waiting as the options say. */
export function takeKernelLock(native: Binding, settled: SettledOptions, kind: FileKind): Promise<PidLock> {
  return take(native, request(native, settled, kind));
}

/** takeKernelLock, blocking. */
export function takeKernelLockSync(native: Binding, settled: SettledOptions, kind: FileKind): PidLock {
  return takeSync(native, request(native, settled, kind));
}
