// Checking and settling the options of pidguard/postgres. Pure, apart from the PIDGUARD_POSTGRES_URL
// environment variable that the caller passes in.
import { invalidArgument } from '../errors';
import { defaultLogger, type Logger } from '../logger';
import { settleWait } from '../options';
import { keepalivesFor, lostWithinMs, settleHealthCheck, type HealthCheck, type Keepalives } from './bounds';
import type { PgClientConfig } from './driver';

/** Options of connect(): where the server is, and how a holder watches its session. */
export interface FleetConnectOptions {
  /**
   * A connection string (postgres://user:password@host:5432/db) or a node-postgres client config.
   * Default: PIDGUARD_POSTGRES_URL, else libpq's PG* variables (PGHOST, PGUSER, ...) as
   * node-postgres reads them. It must reach PostgreSQL itself, or a pooler in session mode: a
   * transaction-pooling pooler (PgBouncer's pool_mode=transaction) breaks session locks, and is
   * refused where it can be detected.
   */
  connection?: string | PgClientConfig | undefined;
  /** The schema of the table pidguard_locks that holds the fencing tokens; default "public". */
  schema?: string | undefined;
  /** Where to report what happens; util.debuglog('pidguard') when not given. */
  logger?: Logger | undefined;
  /** How often a holder asks the server whether its session is alive; default 1000 ms. */
  healthCheckIntervalMs?: number | undefined;
  /** How long a health check may go unanswered before 'lost'; default 1500 ms. */
  healthCheckTimeoutMs?: number | undefined;
  /**
   * The time promised between 'lost' and the earliest moment the server can give the lock to
   * another holder after a partition; default 1000 ms. The session's server-side keepalives are
   * set from these three (see docs/across-hosts.md).
   */
  graceMs?: number | undefined;
  /**
   * What to do when the server sees the connection come from another address or port than this
   * end's: a TCP proxy (or NAT) stands between them, and the server's keepalives then watch the
   * proxy, not this process (docs/across-hosts.md). 'warn' (default): a process warning
   * (PIDGUARD_PROXY), once per server; 'refuse': ENOTSUP; 'allow': nothing, for a path whose
   * timeouts have been checked.
   */
  proxy?: 'warn' | 'refuse' | 'allow' | undefined;
}

/** Options of FleetSession.acquire(). */
export interface FleetAcquireOptions {
  /** false (default) or 0: fail at once when held; true: wait; a number: wait that many ms. */
  wait?: boolean | number | undefined;
  /** Ends a wait: the call rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** Options of acquire(): those of connect() and of FleetSession.acquire(). */
export interface FleetOptions extends FleetConnectOptions, FleetAcquireOptions {}

/** Options of inspect(). */
export interface FleetInspectOptions {
  connection?: string | PgClientConfig | undefined;
  schema?: string | undefined;
  logger?: Logger | undefined;
}

export type ProxyPolicy = 'warn' | 'refuse' | 'allow';

export interface SettledConnect {
  config: PgClientConfig;
  proxy: ProxyPolicy;
  schema: string;
  logger: Logger;
  healthCheck: HealthCheck;
  keepalives: Keepalives;
  lostWithinMs: number;
}

export interface SettledAcquire {
  waitMs: number;
  signal: AbortSignal | undefined;
}

const CONNECT_OPTIONS = [
  'connection',
  'schema',
  'logger',
  'healthCheckIntervalMs',
  'healthCheckTimeoutMs',
  'graceMs',
  'proxy',
] as const;
const ACQUIRE_OPTIONS = ['wait', 'signal'] as const;
const INSPECT_OPTIONS = ['connection', 'schema', 'logger'] as const;

function checkObject(options: unknown, call: string, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null)
    throw invalidArgument(`options must be an object, got ${String(options)}`);
  for (const name of Object.keys(options)) {
    // A misspelled option would otherwise be ignored, and its caller get a lock it did not ask for.
    if (!known.includes(name))
      throw invalidArgument(`options.${name} is not an option of ${call}() (the options are ${known.join(', ')})`);
  }
  return options as Record<string, unknown>;
}

/** A schema name as PostgreSQL takes it unquoted: letters, digits, _ and $; at most 63 bytes. */
export function checkSchema(schema: unknown): string {
  if (schema === undefined) return 'public';
  if (typeof schema !== 'string' || !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(schema)) {
    throw invalidArgument(
      `options.schema must be a plain identifier (letters, digits, _ and $, at most 63), got ${JSON.stringify(schema)}`,
    );
  }
  return schema;
}

/** The connection as a node-postgres config (a copy: pidguard adds to it). */
export function settleConnection(connection: unknown, environmentUrl: string | undefined): PgClientConfig {
  if (connection === undefined)
    return environmentUrl === undefined || environmentUrl === '' ? {} : { connectionString: environmentUrl };
  if (typeof connection === 'string') {
    if (connection === '') throw invalidArgument('options.connection must not be empty');
    return { connectionString: connection };
  }
  if (typeof connection !== 'object' || connection === null || Array.isArray(connection)) {
    throw invalidArgument(
      `options.connection must be a connection string or a node-postgres client config, got ${String(connection)}`,
    );
  }
  return { ...(connection as PgClientConfig) };
}

function settleProxy(proxy: unknown): ProxyPolicy {
  if (proxy === undefined) return 'warn';
  if (proxy === 'warn' || proxy === 'refuse' || proxy === 'allow') return proxy;
  throw invalidArgument(`options.proxy must be 'warn', 'refuse' or 'allow', got ${JSON.stringify(proxy)}`);
}

function settleLogger(logger: unknown): Logger {
  if (logger === undefined) return defaultLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (logger as Record<string, unknown> | null)?.[level] !== 'function')
      throw invalidArgument(`options.logger must have a ${level}() method`);
  }
  return logger as Logger;
}

export function settleConnect(
  options: unknown,
  environmentUrl: string | undefined,
  call = 'connect',
  extra: readonly string[] = [],
): SettledConnect {
  const given = checkObject(options, call, [...CONNECT_OPTIONS, ...extra]);
  const healthCheck = settleHealthCheck(given);
  return {
    config: settleConnection(given['connection'], environmentUrl),
    proxy: settleProxy(given['proxy']),
    schema: checkSchema(given['schema']),
    logger: settleLogger(given['logger']),
    healthCheck,
    keepalives: keepalivesFor(healthCheck),
    lostWithinMs: lostWithinMs(healthCheck),
  };
}

export function settleAcquire(
  options: unknown,
  call = 'acquire',
  known: readonly string[] = ACQUIRE_OPTIONS,
): SettledAcquire {
  const given = checkObject(options, call, known);
  const signal = given['signal'];
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalidArgument('options.signal must be an AbortSignal');
  return { waitMs: settleWait(given['wait']), signal };
}

/** acquire()'s options: connect()'s and FleetSession.acquire()'s together. */
export function settleFleetOptions(
  options: unknown,
  environmentUrl: string | undefined,
): { connect: SettledConnect; acquire: SettledAcquire } {
  const known = [...CONNECT_OPTIONS, ...ACQUIRE_OPTIONS];
  return {
    connect: settleConnect(options, environmentUrl, 'acquire', ACQUIRE_OPTIONS),
    acquire: settleAcquire(options, 'acquire', known),
  };
}

export function settleInspect(
  options: unknown,
  environmentUrl: string | undefined,
): { config: PgClientConfig; schema: string; logger: Logger } {
  const given = checkObject(options, 'inspect', INSPECT_OPTIONS);
  return {
    config: settleConnection(given['connection'], environmentUrl),
    schema: checkSchema(given['schema']),
    logger: settleLogger(given['logger']),
  };
}

/** PIDGUARD_POSTGRES_URL, or undefined when unset or unreadable (a runtime may forbid reading it). */
export function environmentUrl(): string | undefined {
  try {
    return process.env['PIDGUARD_POSTGRES_URL'];
  } catch {
    return undefined;
  }
}
