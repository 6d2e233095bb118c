// Opening a session that holds locks: connect, set the session up in one round trip, and refuse
// a connection on which the lock's guarantees would not hold (a pooler, a server that did not
// take the settings). Used by the holder's session and by `pidguard run`'s command session.
import { keepsInequality } from './bounds';
import { newClient, SAFE_SEARCH_PATH, standbyError } from './connection';
import type { PgClient } from './driver';
import { fleetError, serverError } from './errors';
import type { SettledConnect } from './options';
import { sessionSetupSql, type SetupRow } from './sql';

const warned = new Set<string>();

/** An address as both ends print it: an IPv4 address mapped into IPv6 as plain IPv4. */
export function plainAddress(address: string | null | undefined): string | null {
  if (address === null || address === undefined || address === '') return null;
  return address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/**
 * Whether the server sees the connection come from where this end is: null when it does (or over a
 * Unix socket), else the words for the difference. Pure.
 */
export function proxyBetween(
  local: { address: string | null | undefined; port: number | null | undefined },
  seen: { address: string | null; port: number | null },
): string | null {
  if (seen.address === null) return null;
  const here = `${plainAddress(local.address) ?? '?'}:${local.port ?? '?'}`;
  const there = `${plainAddress(seen.address) ?? '?'}:${seen.port ?? '?'}`;
  return here === there ? null : `the server sees this connection come from ${there}, and this end of it is ${here}`;
}

/**
 * The partition bound rests on the server's keepalives watching this process's own socket. A TCP
 * proxy (a load balancer, a tunnel, PgBouncer forwarding TCP) ends the connection the server
 * sees: then they watch the proxy, and the proxy's own timeouts decide when the server's end
 * dies, maybe before this process's health check says lost. A NAT keeps one connection but
 * changes its address: it cannot be told apart, and is reported the same way.
 */
function checkPeer(client: PgClient, setup: SetupRow, settled: SettledConnect, target: string, server: string): void {
  if (settled.proxy === 'allow' || setup.local) return;
  const stream = client.connection.stream as unknown as { localAddress?: string; localPort?: number };
  const between = proxyBetween(
    { address: stream.localAddress, port: stream.localPort },
    { address: setup.client_addr, port: setup.client_port },
  );
  if (between === null) return;
  const words =
    `${between}: a TCP proxy or a NAT stands between; through a proxy the server's keepalives watch the proxy, not this process, ` +
    "and 'lost' comes before the server frees the lock only if the proxy keeps its server side open at least freedAfterMs after this side goes silent (docs/across-hosts.md)";
  if (settled.proxy === 'refuse')
    throw fleetError('ENOTSUP', `${words}; refused (options.proxy is 'refuse')`, target, server);
  if (warned.has(server)) return;
  warned.add(server);
  process.emitWarning(
    `pidguard: ${target} on ${server}: ${words}; options.proxy 'allow' says it has been checked, 'refuse' refuses`,
    { code: 'PIDGUARD_PROXY' },
  );
}

export interface OpenedSession {
  client: PgClient;
  /** host:port/database. */
  server: string;
  setup: SetupRow;
}

/**
 * A standby is refused with EROFS: its advisory locks are its own, not the primary's. A pooler
 * answers in the server's place: its BackendKeyData names a process of its own, not the backend
 * that runs the statements (PgBouncer, any mode), and it may drop the startup options. And a
 * server that did not take the keepalives cannot keep the partition bound. Those two are refused
 * with ENOTSUP.
 */
function refuseUnsafe(
  client: PgClient,
  setup: SetupRow,
  settled: SettledConnect,
  target: string,
  server: string,
): void {
  if (setup.recovery) throw standbyError(target, server);
  if (client.processID !== setup.backend) {
    throw fleetError(
      'ENOTSUP',
      `the connection goes through a pooler (its key names process ${client.processID}, the session runs in ` +
        `${setup.backend}); a transaction-pooling pooler such as PgBouncer's pool_mode=transaction breaks session locks: connect to PostgreSQL itself`,
      target,
      server,
    );
  }
  if (setup.search_path.replaceAll(' ', '') !== SAFE_SEARCH_PATH) {
    // pidguard's calls would be looked up where other roles may create.
    throw fleetError(
      'ENOTSUP',
      `the server did not take the session's search_path (asked ${SAFE_SEARCH_PATH}, got ${setup.search_path}): ` +
        'a pooler dropped the startup options? connect to PostgreSQL itself',
      target,
      server,
    );
  }
  if (setup.local) return; // a Unix socket: no network to be cut off by
  const got = {
    idle: setup.idle,
    interval: setup.interval,
    count: setup.count,
    userTimeoutMs: setup.user_timeout ?? 0,
  };
  const want = settled.keepalives;
  const taken =
    got.idle === want.idle &&
    got.interval === want.interval &&
    got.count === want.count &&
    got.userTimeoutMs === want.userTimeoutMs;
  if (!taken || !keepsInequality(settled.healthCheck, got)) {
    throw fleetError(
      'ENOTSUP',
      `the server did not take the session's TCP keepalives (asked ${JSON.stringify(want)}, got ${JSON.stringify(got)}), ` +
        'so it could free the lock of a partitioned holder before the holder knows',
      target,
      server,
    );
  }
}

/**
 * Connects, sets the session up and checks it; rejects with a FleetError (ECONNREFUSED, EACCES,
 * ENOTSUP, ...) and leaves nothing open when it cannot. `name`: the session's application_name,
 * when not pidguard's default. The client's 'error' events are the caller's from now on.
 */
export async function openSession(settled: SettledConnect, target: string, name?: string): Promise<OpenedSession> {
  const { client, server } = newClient(
    target,
    settled.config,
    {
      // During a long wait nothing else crosses the connection: the client's own keepalives see a
      // dead server then.
      keepAlive: true,
      keepAliveInitialDelayMillis: settled.healthCheck.intervalMs,
    },
    name,
  );
  const early = (): void => {}; // errors while connecting reject connect() and query() too
  client.on('error', early);
  try {
    await client.connect();
  } catch (error) {
    client.end().catch(() => {});
    throw serverError(error, target, server, 'while connecting');
  }
  try {
    const results = (await client.query(sessionSetupSql(settled.keepalives))) as unknown as { rows: SetupRow[] }[];
    const setup = results[1]?.rows[0] as SetupRow;
    refuseUnsafe(client, setup, settled, target, server);
    checkPeer(client, setup, settled, target, server);
    return { client, server, setup };
  } catch (error) {
    await client.end().catch(() => {});
    throw serverError(error, target, server, 'while setting the session up');
  } finally {
    client.off('error', early);
  }
}
