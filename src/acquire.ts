// acquire, acquireSync, lock and lockSync: which kind of lock to take (the kernel's, or the
// stale-PID fallback where there is none), and failing open when asked to.
import path from 'node:path';
import { pathError, refusesLocks } from './errors';
import type { HeldMode } from './holding';
import { takeKernelLock, takeKernelLockSync, type FileKind } from './kernel/acquire';
import { binding, type Binding } from './addon/binding';
import { environmentMode, settleOptions, type AcquireOptions, type LockOptions, type SettledOptions } from './options';
import { prepareDirectory } from './file/path-trust';
import { PidLock, withoutExitHook } from './pid-lock';
import { takePidFile, type PidFileHolding } from './pidfile/lock';
import { runAsync, runSync } from './util/steps';

const warned = new Set<string>();

/**
 * Says that a lock is weaker than asked for, visibly by default: process.emitWarning with a code,
 * as Node itself warns (`--no-warnings` silences it), once per process for each `key` (a
 * directory: the news is the same for every lock there).
 */
function emitOnce(key: string, code: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(`pidguard: ${message}`, { code });
}

const codeOf = (error: unknown): string | undefined => (error as { code?: unknown }).code as string | undefined;

/** Only an exclusive PID file has a fallback: a shared or plain file lock needs the kernel's. */
const hasFallback = (settled: SettledOptions, kind: FileKind): boolean => kind === 'pidfile' && !settled.shared;

/**
 * The addon, or null when the fallback was asked for. An addon that cannot load is an error in
 * every mode but 'pidfile' (ERR_PIDGUARD_NATIVE, saying why): a fallback holder and a kernel
 * holder of one PID file do not see each other, so falling back quietly would let a bundled copy
 * and an installed one both run.
 */
function kernelBinding(settled: SettledOptions, kind: FileKind): Binding | null {
  if (settled.mode !== 'pidfile') return binding();
  if (hasFallback(settled, kind)) return null;
  throw pathError('ENOTSUP', "operation not supported: mode 'pidfile' covers exclusive PID files; shared and plain file locks need a kernel lock", 'flock', settled.path);
}

/** Whether a kernel lock's failure sends mode 'auto' to the fallback: the file system refused locks. */
function fallsBack(settled: SettledOptions, kind: FileKind, error: unknown): boolean {
  if (settled.mode !== 'auto' || !hasFallback(settled, kind) || !refusesLocks(error)) return false;
  const dir = path.dirname(settled.path);
  const message = `${dir}: the file system refuses locks (${codeOf(error) ?? 'unknown'}); using PID files with stale-PID detection there`;
  if (!warned.has(`fallback:${dir}`)) settled.logger.warn(message);
  emitOnce(`fallback:${dir}`, 'PIDGUARD_FALLBACK', message);
  return true;
}

function fallbackLock(settled: SettledOptions, holding: PidFileHolding): PidLock {
  return new PidLock(holding, settled.path, 'pidfile', false, settled.logger);
}

/** Errors of the environment rather than of the caller or of contention: the ones failOpen forgives. */
function isEnvironmental(error: unknown): boolean {
  const code = codeOf(error);
  if (typeof code !== 'string' || code === 'ELOCKED' || code.startsWith('ERR_INVALID')) return false;
  return !(error instanceof DOMException && error.name === 'AbortError');
}

/** With failOpen, an environmental failure becomes an unheld handle and a warning. */
function failOpenOrThrow(settled: SettledOptions, mode: HeldMode, error: unknown): PidLock {
  if (!settled.failOpen || !isEnvironmental(error)) throw error;
  const message = `running without the lock on ${settled.path} (failOpen): ${(error as Error).message}`;
  settled.logger.warn(message);
  emitOnce(`fail-open:${path.dirname(settled.path)}`, 'PIDGUARD_FAIL_OPEN', message);
  return new PidLock(null, settled.path, mode, settled.shared, settled.logger);
}

async function take(settled: SettledOptions, kind: FileKind): Promise<PidLock> {
  let mode: HeldMode = settled.mode === 'pidfile' ? 'pidfile' : 'kernel';
  try {
    const native = kernelBinding(settled, kind);
    if (native !== null) {
      try {
        return await takeKernelLock(native, settled, kind);
      } catch (error) {
        if (!fallsBack(settled, kind, error)) throw error;
      }
    }
    mode = 'pidfile';
    prepareDirectory(settled.path, settled.mkdir, true);
    return fallbackLock(settled, await runAsync(takePidFile(settled)));
  } catch (error) {
    return failOpenOrThrow(settled, mode, error);
  }
}

function takeSync(settled: SettledOptions, kind: FileKind): PidLock {
  let mode: HeldMode = settled.mode === 'pidfile' ? 'pidfile' : 'kernel';
  try {
    const native = kernelBinding(settled, kind);
    if (native !== null) {
      try {
        return takeKernelLockSync(native, settled, kind);
      } catch (error) {
        if (!fallsBack(settled, kind, error)) throw error;
      }
    }
    mode = 'pidfile';
    prepareDirectory(settled.path, settled.mkdir, true);
    // A wait blocks this thread in pauses: the exit hook comes off meanwhile, as for a kernel wait.
    const take = (): PidFileHolding => runSync(takePidFile(settled));
    return fallbackLock(settled, settled.waitMs > 0 ? withoutExitHook(take) : take());
  } catch (error) {
    return failOpenOrThrow(settled, mode, error);
  }
}


/**
 * Takes the lock on the PID file at `path` and records this process's PID in it (an exclusive
 * lock; a shared one records nothing). Rejects with LockedError (code ELOCKED, with the holder's
 * PID) when another holder has it and the wait, if any, ran out; with the signal's reason when
 * aborted; and with an error carrying the code and path (ENOENT, EACCES, EISDIR, ELOOP, EROFS,
 * ENOSPC, ...) when the file cannot be locked at all, unless `failOpen` is set.
 */
export async function acquire(path: string, options?: AcquireOptions): Promise<PidLock> {
  return take(settleOptions(path, options, environmentMode(), false, 'acquire'), 'pidfile');
}

/** acquire(), blocking: for start-up code that must not go on without the lock. */
export function acquireSync(path: string, options?: AcquireOptions): PidLock {
  return takeSync(settleOptions(path, options, environmentMode(), true, 'acquire'), 'pidfile');
}

/**
 * Takes the same kernel lock on any file, a data file say, without writing, truncating or
 * removing it. A missing file is an ENOENT error unless `create` is set. There is no fallback:
 * where the kernel has no lock to give, it fails (ENOLCK, ENOTSUP, ...).
 */
export async function lock(path: string, options?: LockOptions): Promise<PidLock> {
  return take(settleOptions(path, options, environmentMode(), false, 'lock'), 'plain');
}

/** lock(), blocking. */
export function lockSync(path: string, options?: LockOptions): PidLock {
  return takeSync(settleOptions(path, options, environmentMode(), true, 'lock'), 'plain');
}
