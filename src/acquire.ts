// acquire, acquireSync, lock and lockSync: which kind of lock to take (the kernel's, or the
// stale-PID fallback where there is none), and failing open when asked to.
import path from 'node:path';
import { pathError, refusesLocks } from './errors';
import type { HeldMode, Holding } from './holding';
import { kernelMechanism } from './kernel/acquire';
import type { FileKind, Mechanism } from './mechanism';
import { environmentMode, settleOptions, type AcquireOptions, type LockOptions, type SettledOptions } from './options';
import { PidLock } from './pid-lock';
import { stalePidMechanism } from './stale-pid/lock';

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

/**
 * The mechanism to try first: the stale-PID fallback when asked for (it covers exclusive PID
 * files only), else the kernel's lock. An addon that cannot load is then an error
 * (ERR_PIDGUARD_NATIVE, saying why), never a quiet switch to the fallback: a fallback holder and
 * a kernel holder of one PID file do not see each other, so a bundled copy and an installed one
 * would both run.
 */
function firstMechanism(settled: SettledOptions, kind: FileKind): Mechanism {
  if (settled.mode !== 'pidfile') return kernelMechanism;
  if (stalePidMechanism.covers(settled, kind)) return stalePidMechanism;
  throw pathError(
    'ENOTSUP',
    "operation not supported: mode 'pidfile' covers exclusive PID files; shared and plain file locks need a kernel lock",
    'flock',
    settled.path,
  );
}

/** Whether a kernel lock's failure sends mode 'auto' to the fallback: the file system refused locks. */
function fallsBack(settled: SettledOptions, kind: FileKind, error: unknown): boolean {
  if (settled.mode !== 'auto' || !stalePidMechanism.covers(settled, kind) || !refusesLocks(error)) return false;
  const dir = path.dirname(settled.path);
  const message = `${dir}: the file system refuses locks (${codeOf(error) ?? 'unknown'}); using PID files with stale-PID detection there`;
  if (!warned.has(`fallback:${dir}`)) settled.logger.warn(message);
  emitOnce(`fallback:${dir}`, 'PIDGUARD_FALLBACK', message);
  return true;
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

/** The mode of the lock asked for, before any mechanism was chosen. */
const askedMode = (settled: SettledOptions): HeldMode => (settled.mode === 'pidfile' ? 'pidfile' : 'kernel');

const handle = (settled: SettledOptions, holding: Holding): PidLock =>
  new PidLock(holding, settled.path, holding.mode, settled.shared, settled.logger);

async function take(settled: SettledOptions, kind: FileKind): Promise<PidLock> {
  let mechanism: Mechanism | null = null;
  try {
    mechanism = firstMechanism(settled, kind);
    try {
      return handle(settled, await mechanism.take(settled, kind));
    } catch (error) {
      if (mechanism === stalePidMechanism || !fallsBack(settled, kind, error)) throw error;
    }
    mechanism = stalePidMechanism;
    return handle(settled, await mechanism.take(settled, kind));
  } catch (error) {
    return failOpenOrThrow(settled, mechanism?.mode ?? askedMode(settled), error);
  }
}

/** take(), blocking: the same choice, made with each mechanism's takeSync. */
function takeSync(settled: SettledOptions, kind: FileKind): PidLock {
  let mechanism: Mechanism | null = null;
  try {
    mechanism = firstMechanism(settled, kind);
    try {
      return handle(settled, mechanism.takeSync(settled, kind));
    } catch (error) {
      if (mechanism === stalePidMechanism || !fallsBack(settled, kind, error)) throw error;
    }
    mechanism = stalePidMechanism;
    return handle(settled, mechanism.takeSync(settled, kind));
  } catch (error) {
    return failOpenOrThrow(settled, mechanism?.mode ?? askedMode(settled), error);
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
