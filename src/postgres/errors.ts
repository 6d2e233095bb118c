// The errors of pidguard/postgres: what the server or the network said, restated with a Node-style
// code, the lock's target (postgres:<name>) and the server it concerns. Pure.

/** Every error pidguard/postgres throws but LockedError: Node's shape, with the server's own code. */
export interface FleetError extends Error {
  /** A Node-style code: ECONNREFUSED, ETIMEDOUT, EACCES, ENOENT, ENOTSUP, ELOST, ... */
  code: string;
  /** The lock, as the command names it: postgres:<name>. */
  path: string;
  /** host:port/database (never the password). */
  server: string;
  /** The server's SQLSTATE, when the server said it. */
  sqlState?: string;
}

/** Makes a FleetError: "EACCES: <description> (postgres:nightly on db.internal:5432/app)". */
export function fleetError(
  code: string,
  description: string,
  target: string,
  server: string,
  cause?: unknown,
  sqlState?: string,
): FleetError {
  const error = new Error(
    `${code}: ${description} (${target} on ${server})`,
    cause === undefined ? undefined : { cause },
  ) as FleetError;
  error.code = code;
  error.path = target;
  error.server = server;
  if (sqlState !== undefined) error.sqlState = sqlState;
  return error;
}

/** Socket errors that say the server could not be reached or went away; kept as they are. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOENT',
  'EACCES',
]);

/** SQLSTATEs (and their classes) as Node-style codes, with what to say about them. */
function fromSqlState(state: string): { code: string; what: string } {
  if (state.startsWith('28')) return { code: 'EACCES', what: 'the server refused the credentials' };
  if (state === '3D000') return { code: 'ENOENT', what: 'no such database' };
  if (state === '3F000') return { code: 'ENOENT', what: 'no such schema' };
  if (state === '42501') return { code: 'EACCES', what: 'permission denied' };
  if (state === '53300') return { code: 'EAGAIN', what: 'the server has no connection to spare' };
  if (state === '57P03') return { code: 'ECONNREFUSED', what: 'the server is not accepting connections yet' };
  if (state.startsWith('57P')) return { code: 'ECONNRESET', what: 'the server ended the session' };
  if (state.startsWith('08')) return { code: 'ECONNRESET', what: 'the connection failed' };
  if (state === '25006') return { code: 'EROFS', what: 'the server is read-only (a standby?)' };
  return { code: 'EIO', what: 'the server reported an error' };
}

/** Any error met while talking to the server, as a FleetError. A FleetError passes unchanged. */
export function serverError(error: unknown, target: string, server: string, doing: string): FleetError {
  const cause = error as { code?: unknown; message?: unknown; path?: unknown; server?: unknown };
  if (typeof cause.code === 'string' && typeof cause.path === 'string' && typeof cause.server === 'string')
    return error as FleetError;
  const message = typeof cause.message === 'string' ? cause.message : String(error);
  const code = typeof cause.code === 'string' ? cause.code : undefined;
  const state = sqlStateOf(error);
  if (/unsupported startup parameter/i.test(message)) {
    // PgBouncer refuses startup options it does not pass on, and pidguard sends some (connection.ts).
    return fleetError(
      'ENOTSUP',
      `the connection goes through a pooler, which refused pidguard's startup settings ${doing} (${message}); ` +
        "a transaction-pooling pooler such as PgBouncer's pool_mode=transaction breaks session locks: connect to PostgreSQL itself",
      target,
      server,
      error,
      state,
    );
  }
  if (state !== undefined) {
    const { code: nodeCode, what } = fromSqlState(state);
    return fleetError(nodeCode, `${what} ${doing}: ${message} [SQLSTATE ${state}]`, target, server, error, state);
  }
  if (code !== undefined && NETWORK_CODES.has(code))
    return fleetError(code, `cannot reach the server ${doing}: ${message}`, target, server, error);
  if (/timeout/i.test(message))
    return fleetError('ETIMEDOUT', `no answer from the server ${doing}: ${message}`, target, server, error);
  // node-postgres's words for a client whose connection has already failed or ended.
  if (/terminated|closed|ended|not queryable/i.test(message))
    return fleetError('ECONNRESET', `the connection ended ${doing}: ${message}`, target, server, error);
  return fleetError(code ?? 'EIO', `${doing}: ${message}`, target, server, error);
}

/**
 * The SQLSTATE of an error the server sent (node-postgres puts it in `code`, beside a `severity`
 * that socket errors lack: EPIPE is five capitals too), or of a FleetError made from one.
 */
export function sqlStateOf(error: unknown): string | undefined {
  const fields = (error ?? {}) as { code?: unknown; severity?: unknown; sqlState?: unknown };
  if (typeof fields.sqlState === 'string') return fields.sqlState;
  return typeof fields.severity === 'string' && typeof fields.code === 'string' ? fields.code : undefined;
}
