// Checking and settling the options of acquire, lock and inspect. Pure, apart from reading the
// PIDGUARD_MODE environment variable that the caller passes in.
import path from 'node:path';
import { invalidArgument } from './errors';
import { defaultLogger, type Logger } from './logger';

/** `kernel`: the OS lock. `pidfile`: the stale-PID fallback. `auto`: the kernel lock where it can be had. */
export type LockMode = 'auto' | 'kernel' | 'pidfile';

// Every option may also be given as `undefined`, meaning "not given" (for callers that build
// options objects with exactOptionalPropertyTypes).
export interface AcquireOptions {
  /**
   * false (the default) or 0: fail at once when the lock is held. true: wait until it is free.
   * A number: wait at most that many milliseconds, then fail with LockedError.
   */
  wait?: boolean | number | undefined;
  /** Ends a wait (async calls only): the call rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** A shared (reader) lock: any number of shared holders, or one exclusive. No PID is written. */
  shared?: boolean | undefined;
  /** Which kind of lock to take; the default comes from PIDGUARD_MODE, else `auto`. */
  mode?: LockMode | undefined;
  /** Where to report what happens; util.debuglog('pidguard') when not given. */
  logger?: Logger | undefined;
  /**
   * Availability before exclusion: when the lock cannot be taken for any reason but another
   * holder (EACCES, EROFS, ENOSPC, ...), resolve with a handle whose `held` is false, and warn
   * through the logger, rather than fail. Contention still fails with LockedError. Default false.
   */
  failOpen?: boolean | undefined;
  /**
   * Create the directory (and its parents, mode 0755) when it is missing, as `mkdir -p` would,
   * following no symlink that another user owns (kernel locks). Default false: ENOENT.
   */
  mkdir?: boolean | undefined;
}

export interface LockOptions extends AcquireOptions {
  /** Create the file when it is missing (default: false, fail with ENOENT). */
  create?: boolean | undefined;
  /**
   * A symlink at the path (a Kubernetes ConfigMap mount, a `current/` deploy) is followed, and the
   * file it leads to is locked (default true: lock() never writes). false refuses it with ELOOP,
   * as acquire() always does.
   */
  follow?: boolean | undefined;
}

export interface InspectOptions {
  mode?: LockMode | undefined;
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
  follow: boolean;
  mkdir: boolean;
  failOpen: boolean;
}

/** Which call the options are for: acquire() and its Sync form, or lock() and its Sync form. */
export type OptionsOf = 'acquire' | 'lock';

const ACQUIRE_OPTIONS = ['wait', 'signal', 'shared', 'mode', 'logger', 'failOpen', 'mkdir'] as const;
const LOCK_OPTIONS = [...ACQUIRE_OPTIONS, 'create', 'follow'] as const;

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

function settleBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgument(`options.${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** The known option nearest to a misspelled one (by edit distance), if any is near. */
function nearest(name: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i += 1) {
      const next = [i];
      for (let j = 1; j <= b.length; j += 1) {
        next.push(
          Math.min(
            (row[j] as number) + 1,
            (next[j - 1] as number) + 1,
            (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
          ),
        );
      }
      row = next;
    }
    return row[b.length] as number;
  };
  const scored = known.map((candidate) => ({
    candidate,
    score: distance(name.toLowerCase(), candidate.toLowerCase()),
  }));
  const best = scored.sort((a, b) => a.score - b.score)[0];
  return best !== undefined && best.score <= 2 ? best.candidate : undefined;
}

/** A misspelled option would otherwise be ignored, and its caller get a lock it did not ask for. */
function refuseUnknown(options: object, call: OptionsOf): void {
  const known: readonly string[] = call === 'lock' ? LOCK_OPTIONS : ACQUIRE_OPTIONS;
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const guess = nearest(name, known);
    throw invalidArgument(
      `options.${name} is not an option of ${call}()${guess === undefined ? '' : `; did you mean ${guess}?`} ` +
        `(the options are ${known.join(', ')})`,
    );
  }
}

/**
 * Checks everything before anything is touched. `sync`: signals are refused (a blocked thread
 * cannot see one).
 */
export function settleOptions(
  file: unknown,
  options: LockOptions | undefined,
  environment: string | undefined,
  sync: boolean,
  call: OptionsOf,
): SettledOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidArgument(`options must be an object, got ${describe(options)}`);
  }
  if (options !== undefined) refuseUnknown(options, call);
  const logger = options?.logger ?? defaultLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') throw invalidArgument(`options.logger must have a ${level}() method`);
  }
  const signal = options?.signal;
  if (signal !== undefined) {
    if (sync)
      throw invalidArgument('options.signal works with the async calls only: a blocked thread cannot see an abort');
    if (!(signal instanceof AbortSignal)) throw invalidArgument('options.signal must be an AbortSignal');
  }
  return {
    path: checkPath(file),
    mode: settleMode(options?.mode, environment),
    logger,
    waitMs: settleWait(options?.wait),
    signal,
    shared: settleBoolean(options?.shared, 'shared', false),
    create: settleBoolean(options?.create, 'create', false),
    follow: settleBoolean(options?.follow, 'follow', call === 'lock'),
    mkdir: settleBoolean(options?.mkdir, 'mkdir', false),
    failOpen: settleBoolean(options?.failOpen, 'failOpen', false),
  };
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
