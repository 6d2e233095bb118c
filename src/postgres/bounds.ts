// The failure-detection bounds of a fleet lock, and the server-side keepalives that enforce them.
// Pure.
//
// The inequality this file exists for: a holder cut off from the server by a network partition
// must learn that it lost the lock strictly before the server frees the lock for anyone else.
//
// The holder sends a health check every `intervalMs` and declares the lock lost when one goes
// unanswered for `timeoutMs`, or when its own timers ran so late that it cannot tell. Let S be the
// last moment the server heard from the holder. Every check sent before the partition was heard,
// so the last one, sent at c <= S, is either unanswered (lost by c + timeout) or answered, and
// then the next is sent by c + max(interval, timeout) and lost by that plus timeout. So:
//
//     lost <= S + lostWithinMs,   lostWithinMs = max(intervalMs, timeoutMs) + timeoutMs
//
// The server frees the lock only when its end of the connection dies, and on its own it learns
// that only from TCP: keepalive probes (tcp_keepalives_idle, _interval, _count) after S, or
// tcp_user_timeout for data it sent that was never acknowledged (sent at or after S). The session
// sets all four on itself so that either way:
//
//     freed >= S + freedAfterMs,  freedAfterMs = idle + count * interval = tcp_user_timeout
//                                              >= lostWithinMs + graceMs
//
// graceMs (> 0) is the time the holder is promised between 'lost' and the earliest moment another
// process can hold the lock: the time `pidguard run` gives its command to stop. The bound rests on
// the two clocks running at the same rate (each side measures its own durations; no synchronized
// wall clock is needed), on the holder's event loop running its timers within graceMs of when
// they are due, and on nothing else ending the server's session meanwhile (an operator's
// pg_terminate_backend or a server restart free the lock at once: that is what fencing tokens
// are for).
import { invalidArgument } from '../errors';

export interface HealthCheck {
  /** How often the holder asks the server whether its session is alive, in ms. */
  intervalMs: number;
  /** How long a check may go unanswered before the lock is declared lost, in ms. */
  timeoutMs: number;
  /** The time promised between 'lost' and the earliest moment anyone else can hold, in ms. */
  graceMs: number;
}

/** The server-side settings of the holder's own session. */
export interface Keepalives {
  /** tcp_keepalives_idle, in seconds. */
  idle: number;
  /** tcp_keepalives_interval, in seconds. */
  interval: number;
  /** tcp_keepalives_count. */
  count: number;
  /** tcp_user_timeout, in ms. */
  userTimeoutMs: number;
}

export const DEFAULT_HEALTH_CHECK: Readonly<HealthCheck> = { intervalMs: 1000, timeoutMs: 1500, graceMs: 1000 };

/** Probes 1 s apart, 2 of them: the server gives up within 2 s of its first probe. */
const PROBE_INTERVAL_S = 1;
const PROBE_COUNT = 2;
/** The shortest idle time the kernel takes. */
const MIN_IDLE_S = 1;
/** tcp_user_timeout is an int of ms on the server. */
export const MAX_SERVER_MS = 2 ** 31 - 1;

/** The latest moment, after the server last heard from it, that a holder emits 'lost'. */
export function lostWithinMs({ intervalMs, timeoutMs }: HealthCheck): number {
  return Math.max(intervalMs, timeoutMs) + timeoutMs;
}

/** The keepalives that make the server wait at least lostWithinMs + graceMs before freeing. */
export function keepalivesFor(check: HealthCheck): Keepalives {
  const totalS = Math.max(
    MIN_IDLE_S + PROBE_COUNT * PROBE_INTERVAL_S,
    Math.ceil((lostWithinMs(check) + check.graceMs) / 1000),
  );
  return {
    idle: totalS - PROBE_COUNT * PROBE_INTERVAL_S,
    interval: PROBE_INTERVAL_S,
    count: PROBE_COUNT,
    userTimeoutMs: totalS * 1000,
  };
}

/**
 * The earliest moment, after it last heard from the holder, that the server frees the lock on its
 * own with these keepalives: the later of the probes' end and tcp_user_timeout.
 */
export function freedAfterMs(keepalives: Keepalives): number {
  return Math.max((keepalives.idle + keepalives.count * keepalives.interval) * 1000, keepalives.userTimeoutMs);
}

/** Whether these keepalives keep the inequality for `check`: lost + grace <= freed. */
export function keepsInequality(check: HealthCheck, keepalives: Keepalives): boolean {
  return check.graceMs > 0 && lostWithinMs(check) + check.graceMs <= freedAfterMs(keepalives);
}

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidArgument(`options.${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

/** Checks the health-check options; the keepalives derived from them must fit the server's int. */
export function settleHealthCheck(options: {
  healthCheckIntervalMs?: unknown;
  healthCheckTimeoutMs?: unknown;
  graceMs?: unknown;
}): HealthCheck {
  const check = {
    intervalMs: positive(options.healthCheckIntervalMs, 'healthCheckIntervalMs', DEFAULT_HEALTH_CHECK.intervalMs),
    timeoutMs: positive(options.healthCheckTimeoutMs, 'healthCheckTimeoutMs', DEFAULT_HEALTH_CHECK.timeoutMs),
    graceMs: positive(options.graceMs, 'graceMs', DEFAULT_HEALTH_CHECK.graceMs),
  };
  if (keepalivesFor(check).userTimeoutMs > MAX_SERVER_MS) {
    throw invalidArgument(
      `options.healthCheckIntervalMs, healthCheckTimeoutMs and graceMs add up to more than the server's longest tcp_user_timeout (${MAX_SERVER_MS} ms)`,
    );
  }
  return check;
}
