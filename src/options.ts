// Checking and settling the options of acquire and inspect. Pure, apart from reading the
// PIDGUARD_MODE environment variable that the caller passes in.
import path from 'node:path';
import { invalidArgument } from './errors';
import { defaultLogger, type Logger } from './logger';

/** `kernel`: the OS lock. `pidfile`: the stale-PID fallback. `auto`: the kernel lock where it can be had. */
export type LockMode = 'auto' | 'kernel' | 'pidfile';

export interface AcquireOptions {
  /** false (the default): fail at once when the lock is held. Waiting is not available yet. */
  wait?: false;
  /** Which kind of lock to take; the default comes from PIDGUARD_MODE, else `auto`. */
  mode?: LockMode;
  /** Where to report what happens; util.debuglog('pidguard') when not given. */
  logger?: Logger;
}

export interface InspectOptions {
  mode?: LockMode;
}

export interface SettledOptions {
  path: string;
  mode: 'kernel';
  logger: Logger;
}

const MODES: readonly LockMode[] = ['auto', 'kernel', 'pidfile'];

/** An absolute path with no NUL, which would otherwise cut the path the kernel sees. */
export function checkPath(file: unknown): string {
  if (typeof file !== 'string' || file.length === 0) {
    throw invalidArgument(`path must be a non-empty string, got ${describe(file)}`);
  }
  if (file.includes('\0')) throw invalidArgument(`path must not contain a NUL character: ${JSON.stringify(file)}`);
  return path.resolve(file);
}

export function settleMode(requested: unknown, environment: string | undefined): 'kernel' {
  const mode = requested ?? (environment === undefined || environment === '' ? 'auto' : environment);
  if (!MODES.includes(mode as LockMode)) {
    const source = requested === undefined ? 'PIDGUARD_MODE' : 'options.mode';
    throw invalidArgument(`${source} must be one of ${MODES.join(', ')}, got ${describe(mode)}`);
  }
  if (mode === 'pidfile') {
    const error = new Error("mode 'pidfile' (the stale-PID fallback) is not implemented yet") as Error & { code: string };
    error.code = 'ENOTSUP';
    throw error;
  }
  return 'kernel';
}

export function settleAcquireOptions(file: unknown, options: AcquireOptions | undefined, environment: string | undefined): SettledOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidArgument(`options must be an object, got ${describe(options)}`);
  }
  const wait: unknown = options?.wait;
  if (wait !== undefined && wait !== false) {
    throw invalidArgument(`options.wait: waiting for a lock is not implemented yet; only false is accepted, got ${describe(wait)}`);
  }
  const logger = options?.logger ?? defaultLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') throw invalidArgument(`options.logger must have a ${level}() method`);
  }
  return { path: checkPath(file), mode: settleMode(options?.mode, environment), logger };
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
