// Every SQL statement pidguard/postgres sends, in one place. Pure: texts only.
//
// The lock is a session-level advisory lock on a 64-bit key (names.ts), which the server frees
// the moment the session ends, however its client dies. The fencing token lives in a row per name
// of <schema>.pidguard_locks, written by each new holder in the very statement that takes the
// lock, so that successive holders see strictly increasing tokens. Across a crash of the server
// too: `reserved` is a durable high-water mark (its writes commit with synchronous_commit on),
// and no token is ever given above it. A holder that took the lock at once writes token and mark
// together, durably. A waiter reserves its number durably before it queues, so that the statement
// that wakes with the lock writes `token` with an asynchronous commit: no disk flush between the
// release and the next holder. If another holder took a higher number meanwhile, the waiter takes
// the next one above both, durably. After a crash, a lost asynchronous commit can only leave
// `token` behind the mark, and every new number starts above the mark. (A sequence would not do:
// nextval() in a transaction that writes nothing else is never flushed, and can repeat a value
// after a crash.) Across a failover to a standby that had not received the last commits, the
// new primary's timeline is in every number it gives (TIMELINE_FLOOR).
//
// Every connection runs with search_path = pg_catalog, pg_temp (connection.ts), so that no
// function or operator here can resolve to one another role created; the polymorphic built-ins,
// which a better-matching impostor would beat, are written pg_catalog-qualified all the same.
import type { Keepalives } from './bounds';
import { lockKey } from './names';

/** The token table, schema-qualified and quoted. `schema` is a checked plain identifier. */
export function tableOf(schema: string): string {
  return `"${schema}".pidguard_locks`;
}

/** The longest lock_timeout the server takes, in ms. */
export const MAX_LOCK_TIMEOUT_MS = 2 ** 31 - 1;

/** The key of the transaction lock that serializes creating the table (CREATE ... IF NOT EXISTS is not safe against itself). */
export const SETUP_KEY = lockKey('\u0000pidguard table setup');

/**
 * The settings of the holder's own session, applied in one round trip just after it connects:
 * the keepalives of the partition bound (bounds.ts), no server-side timeout that would end an idle
 * holder or a wait (idle_session_timeout, statement_timeout, lock_timeout), read committed (the
 * token's upsert must see the previous holder's commit) and durable commits (the token survives
 * a crash). A setting the server does not know (an older version) is skipped, and the second
 * statement reads back what the session got.
 */
export function sessionSetupSql(keepalives: Keepalives): string {
  const settings: [string, string][] = [
    ['tcp_keepalives_idle', String(keepalives.idle)],
    ['tcp_keepalives_interval', String(keepalives.interval)],
    ['tcp_keepalives_count', String(keepalives.count)],
    ['tcp_user_timeout', String(keepalives.userTimeoutMs)],
    ['idle_session_timeout', '0'],
    ['idle_in_transaction_session_timeout', '0'],
    ['statement_timeout', '0'],
    ['lock_timeout', '0'],
    // A waiter whose client died leaves the wait queue within a second, instead of being granted
    // the lock and holding it until it tries to answer.
    ['client_connection_check_interval', '1000'],
    ['default_transaction_isolation', 'read committed'],
    ['default_transaction_read_only', 'off'],
    ['synchronous_commit', 'on'],
  ];
  const values = settings.map(([name, value]) => `('${name}', '${value}')`).join(', ');
  return `SELECT set_config(v.name, v.value, false) FROM (VALUES ${values}) AS v(name, value) WHERE v.name IN (SELECT name FROM pg_settings);
SELECT pg_backend_pid() AS backend, inet_server_addr() IS NULL AS local,
  current_setting('tcp_keepalives_idle')::int AS idle, current_setting('tcp_keepalives_interval')::int AS interval,
  current_setting('tcp_keepalives_count')::int AS count,
  (SELECT setting::int FROM pg_settings WHERE name = 'tcp_user_timeout') AS user_timeout,
  current_setting('server_version_num')::int AS version, current_setting('search_path') AS search_path,
  host(inet_client_addr()) AS client_addr, inet_client_port() AS client_port, pg_is_in_recovery() AS recovery`;
}

export interface SetupRow {
  backend: number;
  local: boolean;
  idle: number;
  interval: number;
  count: number;
  user_timeout: number | null;
  version: number;
  search_path: string;
  /** Where the server sees the connection come from (null over a Unix socket). */
  client_addr: string | null;
  client_port: number | null;
  /** A standby: its advisory locks are its own, not the primary's. */
  recovery: boolean;
}

/** Whether the server is a standby (in recovery): asked first by every connection that does not hold. */
export const RECOVERY_SQL = 'SELECT pg_is_in_recovery() AS recovery';

/**
 * The lowest token the server's current timeline may give: (timeline - 1) * 2^40, the timeline read
 * from the name of the WAL file being written. A failover promotes a standby to a new timeline;
 * if it was asynchronous, it may lack the last tokens the old primary gave (and their marks), and
 * its own start above all of them (a timeline gives fewer than 2^40 tokens). Timeline 1 starts
 * at 0, so a server that never failed over numbers 1, 2, 3...
 */
const TIMELINE_FLOOR = "((('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint - 1) << 40)";

/** The number above every token given so far and every number reserved, and at least the timeline's floor + 1. */
const NEXT = `GREATEST(r.reserved, r.token, ${TIMELINE_FLOOR}) + 1`;

/** The first number of a name never held: 1 on timeline 1. */
const FIRST = `${TIMELINE_FLOOR} + 1`;

/** The new holder's row when it takes the lock at once: the next number, as token and mark, durably. */
function upsert(table: string, from: string): string {
  return `INSERT INTO ${table} AS r (name, token, reserved, host, pid, backend, since)
SELECT $1, ${FIRST}, ${FIRST}, $3, $4, pg_backend_pid(), clock_timestamp() ${from}
ON CONFLICT (name) DO UPDATE SET token = ${NEXT}, reserved = ${NEXT},
  host = excluded.host, pid = excluded.pid, backend = excluded.backend, since = excluded.since
RETURNING token::text AS token, backend, since`;
}

/**
 * Takes the lock if it is free, and the next token with it; when it is held, says who holds it,
 * read in the same statement just after the attempt failed (so the holder named held the lock at
 * some moment during the attempt). $1 name, $2 key, $3 host, $4 pid.
 */
export function tryAcquireSql(table: string): string {
  return `WITH attempt AS MATERIALIZED (SELECT pg_try_advisory_lock($2::bigint) AS taken),
taken AS (${upsert(table, 'FROM attempt WHERE attempt.taken')})
SELECT t.token, t.backend, t.since, pg_catalog.to_json(h) AS holder
FROM attempt
LEFT JOIN taken AS t ON true
LEFT JOIN LATERAL (${holderQuery(table, KEY_TAG)} AND NOT attempt.taken) AS h ON true`;
}

/** What an attempt returns: the new holder's row, or (token null) the holder it saw. */
export interface AttemptRow {
  token: string | null;
  backend: number | null;
  since: Date | null;
  /** The holder, as holderSql's row in JSON (since as text); null when the attempt saw none. */
  holder: (Omit<HolderRow, 'since'> & { since: string | null }) | null;
}

/**
 * A waiter's number, reserved durably before it queues ($1 name, $2 key, $3 host, $4 pid): above every
 * token and reservation so far. A name never held gets a row with token 0, which no holder has.
 */
export function reserveSql(table: string): string {
  return `INSERT INTO ${table} AS r (name, token, reserved, host, pid, backend, since)
SELECT $1, 0, ${FIRST}, $3, $4, 0, clock_timestamp() WHERE $2::bigint IS NOT NULL
ON CONFLICT (name) DO UPDATE SET reserved = ${NEXT}
RETURNING reserved::text AS reserved`;
}

/**
 * Waits in the server's own lock queue (no polling) for at most $6 ms (0: for ever), then takes
 * the reserved number $5 as its token when it is still above the last holder's, committing
 * asynchronously (the number is durable already); otherwise the next number above all, durably.
 * lock_timeout is set for this statement's transaction only, before the wait (the lateral
 * subquery refers to set_config's result, so it runs after it), and synchronous_commit just
 * before the commit (RETURNING). ON CONFLICT DO UPDATE works on the newest row, whatever the
 * statement's snapshot, which was taken before the wait.
 */
export function waitAcquireSql(table: string): string {
  const mine = '$5::bigint > r.token';
  return `INSERT INTO ${table} AS r (name, token, reserved, host, pid, backend, since)
SELECT $1, $5::bigint, $5::bigint, $3, $4, pg_backend_pid(), clock_timestamp()
FROM set_config('lock_timeout', $6, true) AS t
CROSS JOIN LATERAL (SELECT pg_advisory_lock($2::bigint) WHERE t IS NOT NULL) AS l
ON CONFLICT (name) DO UPDATE SET token = CASE WHEN ${mine} THEN $5::bigint ELSE ${NEXT} END,
  reserved = CASE WHEN ${mine} THEN r.reserved ELSE ${NEXT} END,
  host = excluded.host, pid = excluded.pid, backend = excluded.backend, since = excluded.since
RETURNING token::text AS token, backend, since,
  set_config('synchronous_commit', CASE WHEN token = $5::bigint AND reserved >= $5::bigint THEN 'off' ELSE 'on' END, true) AS commit`;
}

export interface AcquiredRow {
  token: string;
  backend: number;
  since: Date;
}

/** $1 key. */
export const UNLOCK_SQL = 'SELECT pg_advisory_unlock($1::bigint) AS released';

/**
 * After a failed attempt: gives back every hold this session has on key $1 (none, or one that the
 * server granted as the statement failed), without the warning pg_advisory_unlock gives when there
 * is none.
 */
export const UNLOCK_IF_HELD_SQL = `SELECT pg_catalog.count(pg_advisory_unlock($1::bigint)) AS released FROM pg_locks AS l
WHERE l.pid = pg_backend_pid() AND ${held(tagOf('$1'))}`;

/** The health check: answered only by a live session, and by the same backend as at first. */
export const CHECK_SQL = 'SELECT pg_backend_pid() AS backend';

/** Creates the token table unless it exists, serialized against other sessions doing the same. */
export function createTableSql(schema: string): string {
  const table = tableOf(schema);
  const regclass = `'${table.replaceAll("'", "''")}'`;
  return `DO $pidguard$ BEGIN
  PERFORM pg_advisory_xact_lock(${SETUP_KEY});
  IF to_regclass(${regclass}) IS NULL THEN
    CREATE TABLE ${table} (name text PRIMARY KEY, token bigint NOT NULL, reserved bigint NOT NULL, host text NOT NULL,
      pid integer NOT NULL, backend integer NOT NULL, since timestamptz NOT NULL);
    COMMENT ON TABLE ${table} IS 'pidguard: the fencing token, its durable high-water mark and the last holder of each lock name; never delete rows (tokens would start again at 1)';
    GRANT SELECT ON ${table} TO PUBLIC;
  END IF;
END $pidguard$`;
}

/** The pg_locks tag of a key: as parameters $2 (classid) and $3 (objid), or computed from the key in a parameter. */
const PARAM_TAG = { classid: '$2::oid', objid: '$3::oid' };
function tagOf(param: string): { classid: string; objid: string } {
  return { classid: `((${param}::bigint >> 32) & 4294967295)::oid`, objid: `(${param}::bigint & 4294967295)::oid` };
}
const KEY_TAG = tagOf('$2');

/** Where pg_locks shows the exclusive holder of the lock with that tag. */
function held(tag: { classid: string; objid: string }): string {
  return `l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = ${tag.classid} AND l.objid = ${tag.objid} AND l.objsubid = 1 AND l.granted AND l.mode = 'ExclusiveLock'`;
}

/**
 * The holder's row: the backend from pg_locks (the truth), the recorded holder from the table
 * (current when its backend is that one), and the backend's application_name, which every role
 * may read. `table` null: without the table (for a role that may not read it).
 */
function holderQuery(table: string | null, tag: { classid: string; objid: string }): string {
  const row =
    table === null
      ? 'NULL::text AS token, NULL::text AS host, NULL::int AS pid, NULL::timestamptz AS since, NULL::int AS recorded, NULL::text AS last_token'
      : 'CASE WHEN r.backend = l.pid THEN r.token::text END AS token, r.host, r.pid, r.since, r.backend AS recorded, r.token::text AS last_token';
  return `SELECT l.pid AS backend, ${row}, a.application_name
FROM pg_locks AS l
LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
${table === null ? '' : `LEFT JOIN ${table} AS r ON r.name = $1`}
WHERE ${held(tag)}`;
}

/** Who holds the lock now ($1 name, $2 classid, $3 objid): no row when nobody does. */
export function holderSql(table: string | null): string {
  return `${holderQuery(table, PARAM_TAG)} AND $1::text IS NOT NULL`;
}

export interface HolderRow {
  backend: number | null;
  token: string | null;
  host: string | null;
  pid: number | null;
  since: Date | null;
  recorded: number | null;
  last_token: string | null;
  application_name: string | null;
}

/** Ends the holder's session, if $4 is still the backend holding the lock ($2 classid, $3 objid; $1 unused). */
export const TERMINATE_SQL = `SELECT pg_terminate_backend(l.pid) AS terminated FROM pg_locks AS l WHERE ${held(PARAM_TAG)} AND l.pid = $4 AND $1::text IS NOT NULL`;

/**
 * Waits (in the server's queue, at most $2 ms; 0: for ever) until no exclusive holder has the
 * lock on key $1, by taking a shared lock and giving it back in the same statement.
 */
export const WAIT_FREE_SQL = `SELECT pg_advisory_unlock_shared($1::bigint) AS free
FROM set_config('lock_timeout', $2, true) AS t
CROSS JOIN LATERAL (SELECT pg_advisory_lock_shared($1::bigint) WHERE t IS NOT NULL) AS l`;

/** A command session's try for the command key $1. */
export const TRY_COMMAND_SQL = 'SELECT pg_try_advisory_lock($1::bigint) AS taken';

/** A command session's wait for the command key $1, in the server's queue, for at most $2 ms (0: for ever). */
export const WAIT_COMMAND_SQL = `SELECT true AS taken
FROM set_config('lock_timeout', $2, true) AS t
CROSS JOIN LATERAL (SELECT pg_advisory_lock($1::bigint) WHERE t IS NOT NULL) AS l`;

/** Sets this session's application_name to $1. */
export const NAME_SESSION_SQL = "SELECT set_config('application_name', $1, false) AS name";

/**
 * Who runs under the lock: the session holding the lock's key $1 ('lock'), and every session
 * holding its command key $2 ('command'), with the application_name that names each.
 */
export const RUNNING_SQL = `SELECT 'lock' AS kind, l.pid AS backend, a.application_name FROM pg_locks AS l
LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid WHERE ${held(tagOf('$1'))}
UNION ALL
SELECT 'command' AS kind, l.pid AS backend, a.application_name FROM pg_locks AS l
LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid WHERE ${held(tagOf('$2'))}`;

export interface RunningRow {
  kind: 'lock' | 'command';
  backend: number;
  application_name: string | null;
}
