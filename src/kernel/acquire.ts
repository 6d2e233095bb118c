// Taking a kernel lock: at once, or waiting on a native thread; and, when another holder keeps
// it, that holder's PID for the "already running" error.
import fs from 'node:fs';
import { abortReason, fsErrorFor, LockedError, withPath } from '../errors';
import type { NamedHolder } from './holder-proof';
import { lockedFile, readFlockHoldersSync } from './locks';
import { kernelHolder } from './holders';
import { binding, nativePath, type Binding, type NativeError, type NativeHandle } from '../addon/binding';
import { lockError } from '../file/refusal';
import type { SettledOptions } from '../options';
import { KernelHolding } from './holding';
import { prepareDirectory } from '../file/path-trust';
import type { FileKind, Mechanism } from '../mechanism';
import { withoutExitHook } from '../util/exit-hook';
import { formatPid } from '../file/pid-text';
import { runProcSync } from '../process/proc-io';
import { readPidFileSync } from '../file/read';
import { mountDeviceOf } from './mount-device';
import { runAsync, runSync, type Steps } from '../util/steps';
import { setLongTimeout } from '../util/timers';

/** How long a loser waits for a holder that has locked the file but not yet written its PID. */
export const PID_WRITE_GRACE_MS = 100;
const PID_POLL_MS = 5;

/** How many times to try again when the holder released the file while we were reading it. */
const MAX_ROUNDS = 8;

interface Holder {
  /** The holder as far as it could be named (see kernel/holder-proof.ts). */
  named: NamedHolder;
  /** The file was gone, or unlocked, when we looked: its holder released it. */
  released: boolean;
  /**
   * Locked, and the file's PID, by its descriptors, did not hold it when looked at: most often a
   * holder dying as we looked (its descriptors closed before the kernel lets its lock go), so the
   * lock is about to be free; else a holder that records no PID of its own. Worth trying again
   * for a bounded time.
   */
  unsettled: boolean;
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
    const contents = readPidFileSync(file, mountDeviceOf);
    if (contents.kind === 'missing') return { named: NOBODY, released: true, unsettled: false };
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
    // Locked, yet nobody proven: the file's PID and the kernel's record both checked and found
    // not holding it (not merely unreadable, or hidden in another namespace).
    const unsettled = named.locked && named.pid === null && named.recordedPidHolds === false;
    return { named, released: !named.locked, unsettled };
  }
}

/** The refusal: naming only a holder proven (or, where nothing proves one, trusted). */
function lockedError(path: string, { pid, proof, recordedPid, recordedPidHolds }: NamedHolder): LockedError {
  const named = proof === 'fd' || proof === 'pid-file' ? pid : null;
  const uncheckedPid = proof === 'proc-locks' ? pid : null;
  return new LockedError(path, named, { doubt: { recordedPid, recordedPidHolds, uncheckedPid } });
}

/** What one kind of lock asks of the addon. */
interface LockRequest {
  settled: SettledOptions;
  /** The file to lock: the path asked for, or where a symlink there leads (lock() with `follow`). */
  target: string;
  flags: number;
  /** The PID text to write, for an exclusive PID-file lock. */
  text: string | null;
}

/**
 * Where a symlink at `file` leads, for lock() with `follow`: a data file is often a link (a
 * Kubernetes ConfigMap mount, a `current/` deploy), and lock() never writes. The file itself
 * otherwise, including when nothing is there yet (`create`).
 */
function followed(file: string): string {
  try {
    return fs.lstatSync(file).isSymbolicLink() ? fs.realpathSync(file) : file;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return file;
    throw fsErrorFor(error, file);
  }
}

function request(native: Binding, settled: SettledOptions, kind: FileKind): LockRequest {
  // POSIX: the addon makes the directories during its safe walk. Windows: here, beforehand.
  if (settled.mkdir && process.platform === 'win32') prepareDirectory(settled.path, true);
  const mkdir = settled.mkdir ? native.MKDIR : 0;
  if (kind === 'plain') {
    const flags = (settled.create ? native.CREATE : 0) | (settled.shared ? native.SHARED : 0) | mkdir;
    return { settled, target: settled.follow ? followed(settled.path) : settled.path, flags, text: null };
  }
  const flags = native.CREATE | (settled.shared ? native.SHARED : native.PIDFILE) | mkdir;
  return { settled, target: settled.path, flags, text: settled.shared ? null : formatPid(process.pid) };
}

function wrap(
  native: Binding,
  { settled: { shared, logger }, target, text }: LockRequest,
  handle: NativeHandle,
): KernelHolding {
  logger.debug(`locked ${target}${shared ? ' (shared)' : ''} as PID ${process.pid}`);
  return new KernelHolding(native, handle, target, text !== null);
}

function tryLock(native: Binding, { target, flags, text }: LockRequest): NativeHandle | null {
  try {
    return native.lock(nativePath(target), flags, text);
  } catch (error) {
    throw lockError(error, target);
  }
}

/** Tries without waiting; on contention, finds the holder and throws LockedError. */
function* lockNow(native: Binding, request: LockRequest): Steps<KernelHolding> {
  const { path, logger } = request.settled;
  let unsettledSince: number | null = null;
  for (let round = 1; ; round += 1) {
    const handle = tryLock(native, request);
    if (handle !== null) return wrap(native, request, handle);
    const holder = yield* findHolder(request.target);
    if (holder.released && round < MAX_ROUNDS) continue;
    // A holder dying as we look has closed its descriptors before the kernel lets its lock go:
    // give it the same bounded grace as a holder yet to write its PID, then name whom we can.
    if (holder.unsettled) {
      unsettledSince ??= performance.now();
      if (performance.now() - unsettledSince < PID_WRITE_GRACE_MS) {
        yield PID_POLL_MS;
        continue;
      }
    }
    const error = lockedError(path, holder.named);
    logger.debug(`${path} is held by PID ${error.pid ?? 'unknown'}`);
    throw error;
  }
}

/**
 * Waits on a native thread until granted, timed out (null) or aborted (rejects with the signal's
 * reason). The thread sits in the blocking lock call: it wakes the moment the kernel grants it.
 */
function waitAsync(
  native: Binding,
  { settled, target: path, flags, text }: LockRequest,
  waitMs: number,
): Promise<NativeHandle | null> {
  const { signal } = settled;
  return new Promise((resolve, reject) => {
    let ending: 'timeout' | 'abort' | null = null;
    let stopTimer = (): void => {};
    const done = (error: NativeError | null, handle: NativeHandle | null): void => {
      stopTimer();
      signal?.removeEventListener('abort', onAbort);
      if (handle !== null && ending === 'abort') {
        // Granted just as the caller gave up: give it back. This runs from the addon's callback,
        // where a throw would be uncaught, so a failed removal is only reported.
        try {
          native.unlock(handle, text !== null);
        } catch (unlockError) {
          settled.logger.warn(
            `could not remove ${path} after an aborted wait: ${(withPath(unlockError, path) as Error).message}`,
          );
        }
        reject(abortReason(signal as AbortSignal));
      } else if (handle !== null) {
        resolve(handle); // granted, even if in the same moment as the timeout
      } else if (error?.code === 'ECANCELED') {
        if (ending === 'abort') reject(abortReason(signal as AbortSignal));
        else resolve(null);
      } else {
        reject(lockError(error, path));
      }
    };
    const ticket = native.wait(nativePath(path), flags, text, done);
    const onAbort = (): void => {
      ending = 'abort';
      native.cancelWait(ticket);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(waitMs)) {
      stopTimer = setLongTimeout(() => {
        ending ??= 'timeout';
        native.cancelWait(ticket);
      }, waitMs);
    }
  });
}

async function take(native: Binding, request: LockRequest): Promise<KernelHolding> {
  const { path, waitMs, signal } = request.settled;
  if (signal?.aborted === true) throw abortReason(signal);
  if (waitMs === 0) return runAsync(lockNow(native, request));
  const handle = tryLock(native, request) ?? (await waitAsync(native, request, waitMs));
  if (handle !== null) return wrap(native, request, handle);
  // Timed out: one last try, which also names the holder.
  request.settled.logger.debug(`gave up waiting for ${path} after ${waitMs} ms`);
  return runAsync(lockNow(native, request));
}

/**
 * How long a synchronous wait blocks in native code at a time. Between slices V8 can end the
 * thread (worker.terminate(), process.exit() from the main thread), which it cannot do while the
 * thread sits in native code; a grant wakes the slice at once, so this costs no latency.
 */
const SYNC_SLICE_MS = 50;

/**
 * Waits, blocking this thread, until granted or `waitMs` ends (null). The exit hook comes off
 * before the wait's thread starts: once that thread may block, a hooked SIGTERM would be lost.
 */
function waitSync(native: Binding, { target: path, flags, text }: LockRequest, waitMs: number): NativeHandle | null {
  try {
    return withoutExitHook(() => {
      const ticket = native.waitSyncStart(nativePath(path), flags, text);
      const deadline = performance.now() + waitMs;
      for (;;) {
        const left = deadline - performance.now();
        const slice = Math.min(SYNC_SLICE_MS, Math.max(0, left));
        const handle = native.waitSyncFor(ticket, slice);
        if (handle !== undefined) return handle;
        if (left <= slice) return native.waitSyncEnd(ticket);
      }
    });
  } catch (error) {
    throw lockError(error, path);
  }
}

function takeSync(native: Binding, request: LockRequest): KernelHolding {
  const { path, waitMs } = request.settled;
  if (waitMs === 0) return runSync(lockNow(native, request));
  const handle = tryLock(native, request) ?? waitSync(native, request, waitMs);
  if (handle !== null) return wrap(native, request, handle);
  request.settled.logger.debug(`gave up waiting for ${path} after ${waitMs} ms`);
  return runSync(lockNow(native, request));
}

/** The kernel's lock (flock on POSIX, LockFileEx on Windows), through the addon. */
export const kernelMechanism: Mechanism = {
  mode: 'kernel',
  covers: () => true,
  // binding() throws ERR_PIDGUARD_NATIVE, with its cause and remedy, where the addon cannot load.
  take: (settled, kind) => {
    const native = binding();
    return take(native, request(native, settled, kind));
  },
  takeSync: (settled, kind) => {
    const native = binding();
    return takeSync(native, request(native, settled, kind));
  },
};
