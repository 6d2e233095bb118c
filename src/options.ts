// Checking and settling the options of acquire, lock and inspect. Pure, apart from reading the
// PIDGUARD_MODE environment variable that the caller passes in.
import path from 'node:path';
import { invalidArgument } from './errors';
import { defaultLogger, type Logger } from './logger';

/** `kernel`: the OS lock. `pidfile`: the stale-PID fallback. `auto`: the kernel lock where it can be had. */
export type LockMode = 'auto' | 'kernel' | 'pidfile';

export interface AcquireOptions {
  /**
   * false (the default) or 0: fail at once when the lock is held. true: wait until it is free.
   * A number: wait at most that many milliseconds, then fail with LockedError.
   */
  wait?: boolean | number;
  /** Ends a wait (async calls only): the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /** A shared (reader) lock: any number of shared holders, or one exclusive. No PID is written. */
  shared?: boolean;
  /** Which kind of lock to take; the default comes from PIDGUARD_MODE, else `auto`. */
  mode?: LockMode;
  /** Where to report what happens; util.debuglog('pidguard') when not given. */
  logger?: Logger;
  /**
   * Availability before exclusion: when the lock cannot be taken for any reason but another
   * holder (EACCES, EROFS, ENOSPC, ...), resolve with a handle whose `held` is false, and warn
   * through the logger, rather than fail. Contention still fails with LockedError. Default false.
   */
  failOpen?: boolean;
}

export interface LockOptions extends AcquireOptions {
  /** Create the file when it is missing (default: false, fail with ENOENT). */
  create?: boolean;
}

export interface InspectOptions {
  mode?: LockMode;
}

export interface SettledOptions {
  path: string;
  mode: LockMode;
  logger: Logger;
  /** How long to wait, in ms: 0 for not at all, Infinity for as long as it takes. */
  waitMs: number;
  signal: AbortSignal | undefined;
  shared: boolean;
  create: boolean;
  failOpen: boolean;
}

const MODES: readonly LockMode[] = ['auto', 'kernel', 'pidfile'];

/**
 * PIDGUARD_MODE, or undefined when it is not set or cannot be read: a runtime may forbid reading
 * the environment (Deno without --allow-env throws), and that means "not set", not an error.
 */
export function environmentMode(): string | undefined {
  try {
    return process.env['PIDGUARD_MODE'];
  } catch {
    return undefined;
  }
}

/** An absolute path with no NUL, which would otherwise cut the path the kernel sees. */
export function checkPath(file: unknown): string {
  if (typeof file !== 'string' || file.length === 0) {
    throw invalidArgument(`path must be a non-empty string, got ${describe(file)}`);
  }
  if (file.includes('\0')) throw invalidArgument(`path must not contain a NUL character: ${JSON.stringify(file)}`);
  return path.resolve(file);
}

export function settleMode(requested: unknown, environment: string | undefined): LockMode {
  const mode = requested ?? (environment === undefined || environment === '' ? 'auto' : environment);
  if (!MODES.includes(mode as LockMode)) {
    const source = requested === undefined ? 'PIDGUARD_MODE' : 'options.mode';
    throw invalidArgument(`${source} must be one of ${MODES.join(', ')}, got ${describe(mode)}`);
  }
  return mode as LockMode;
}

export function settleWait(wait: unknown): number {
  if (wait === undefined || wait === false) return 0;
  if (wait === true) return Infinity;
  if (typeof wait === 'number' && wait >= 0 && !Number.isNaN(wait)) return wait;
  throw invalidArgument(`options.wait must be a boolean or a number of milliseconds >= 0, got ${describe(wait)}`);
}

function settleBoolean(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArgument(`options.${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** Checks everything before anything is touched. `sync`: signals are refused (a blocked thread cannot see one). */
export function settleOptions(file: unknown, options: LockOptions | undefined, environment: string | undefined, sync: boolean): SettledOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidArgument(`options must be an object, got ${describe(options)}`);
  }
  const logger = options?.logger ?? defaultLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') throw invalidArgument(`options.logger must have a ${level}() method`);
  }
  const signal = options?.signal;
  if (signal !== undefined) {
    if (sync) throw invalidArgument('options.signal works with the async calls only: a blocked thread cannot see an abort');
    if (!(signal instanceof AbortSignal)) throw invalidArgument('options.signal must be an AbortSignal');
  }
  return {
    path: checkPath(file),
    mode: settleMode(options?.mode, environment),
    logger,
    waitMs: settleWait(options?.wait),
    signal,
    shared: settleBoolean(options?.shared, 'shared'),
    create: settleBoolean(options?.create, 'create'),
    failOpen: settleBoolean(options?.failOpen, 'failOpen'),
  };
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
