// Every connection pidguard/postgres opens: a node-postgres client named for this process, with
// the settings that pidguard's SQL relies on sent in the startup packet, before any statement
// runs and above anything a role or database sets for itself (ALTER ROLE ... SET).
import os from 'node:os';
import { pg, type PgClient, type PgClientConfig } from './driver';
import { fleetError, type FleetError } from './errors';
import { applicationName } from './holder';
import { RECOVERY_SQL } from './sql';

/**
 * The settings every pidguard connection starts with (`-c name=value` in the startup packet's
 * options, which outrank ALTER ROLE and ALTER DATABASE settings):
 * - search_path: pg_catalog alone (pg_temp named last, so that it is not searched first). A role
 *   that may create objects in a schema on the path could otherwise define a function or operator
 *   that matches one of pidguard's calls better than the built-in one (public.to_json(record)
 *   beats pg_catalog.to_json(anyelement)), and every holder would run it with its own rights.
 * - statement_timeout, lock_timeout, idle_in_transaction_session_timeout: none, so that a role's
 *   setting cannot end a wait whose length pidguard bounds itself.
 * Each exists in every PostgreSQL that pidguard supports: an unknown name would fail the connection.
 */
export const STARTUP_SETTINGS: Readonly<Record<string, string>> = {
  search_path: 'pg_catalog,pg_temp',
  statement_timeout: '0',
  lock_timeout: '0',
  idle_in_transaction_session_timeout: '0',
};

/** The search_path the server reports once STARTUP_SETTINGS are taken (spaces aside). */
export const SAFE_SEARCH_PATH = STARTUP_SETTINGS['search_path'] ?? '';

/** The caller's own startup options (config, connection string or PGOPTIONS) with pidguard's after them, which win. */
export function startupOptions(theirs: unknown): string {
  const ours = Object.entries(STARTUP_SETTINGS)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
  return typeof theirs === 'string' && theirs.trim() !== '' ? `${theirs.trim()} ${ours}` : ours;
}

/** host:port/database, for messages (a Unix-socket directory stands for the host; never the password). */
export function describeServer(client: PgClient): string {
  return `${client.host}:${client.port}/${client.database ?? client.user ?? ''}`;
}

/** How long connecting may take unless the connection config says otherwise. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A client for `config` (not connected yet), named `pidguard <pid>@<host>` unless `name` or the
 * config says otherwise, with `extra` (keepalives, ...) under the config's own fields. A config
 * node-postgres cannot take (a connection string that is not a URL, a port out of range, an
 * sslrootcert that cannot be read) throws a FleetError with the cause's code, for `target`,
 * without repeating the connection string (it may hold a password).
 */
export function newClient(
  target: string,
  config: PgClientConfig,
  extra: PgClientConfig = {},
  name?: string,
): { client: PgClient; server: string } {
  let client: PgClient;
  try {
    client = new (pg().Client)({
      application_name: applicationName(process.pid, os.hostname()),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      ...extra,
      ...config,
      ...(name === undefined ? {} : { application_name: name }),
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_PIDGUARD_NO_PG') throw error;
    const code = (error as { code?: unknown }).code;
    const where =
      config.connectionString === undefined
        ? 'the connection config'
        : 'the connection string (PIDGUARD_POSTGRES_URL or options.connection)';
    throw fleetError(
      typeof code === 'string' ? code : 'ERR_INVALID_ARG_VALUE',
      `${where} cannot be used: ${(error as Error).message}`,
      target,
      'the server it names',
      error,
    );
  }
  const parameters = client.connectionParameters;
  parameters.options = startupOptions(parameters.options);
  return { client, server: describeServer(client) };
}

/**
 * Asks the server to cancel the statement `client` runs now: the protocol's CancelRequest, sent
 * on a connection of its own to the same server, and not waited for.
 */
export function sendCancel(client: PgClient, config: PgClientConfig): void {
  const { processID, secretKey } = client;
  if (processID === null || secretKey === null) return;
  const canceller = new (pg().Client)(config).connection;
  canceller.on('error', () => {}); // the server closes it once read
  canceller.on('connect', () => canceller.cancel(processID, secretKey));
  if (client.host.startsWith('/')) canceller.connect(`${client.host}/.s.PGSQL.${client.port}`);
  else canceller.connect(client.port, client.host);
}

/** EROFS for a standby: advisory locks taken there are its own, which nobody on the primary sees. */
export function standbyError(target: string, server: string): FleetError {
  return fleetError(
    'EROFS',
    "the server is a standby (in recovery): its advisory locks are its own, not the primary's: connect to the primary",
    target,
    server,
  );
}

/** Connects `client` and refuses a standby (standbyError); every connection that does not hold a lock starts so. */
export async function connectToPrimary(client: PgClient, target: string, server: string): Promise<void> {
  await client.connect();
  const { rows } = await client.query<{ recovery: boolean }>(RECOVERY_SQL);
  if (rows[0]?.recovery === true) throw standbyError(target, server);
}
