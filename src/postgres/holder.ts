// Who holds a lock, as the server shows it to anyone: decided from one row of sql.ts's holderSql.
// Pure.
import type { AttemptRow, HolderRow } from './sql';

/** `name` cut to the server's 63 bytes (application_name's limit). */
function fit(name: string): string {
  let fitted = name;
  while (Buffer.byteLength(fitted, 'utf8') > 63) fitted = fitted.slice(0, -1);
  return fitted;
}

/** The application_name a holder's session carries: `pidguard <pid>@<host>`, cut to the server's 63 bytes. */
export function applicationName(pid: number, host: string): string {
  return fit(`pidguard ${pid}@${host}`);
}

/**
 * The application_name of a `pidguard run` command session (command-session.ts):
 * `pidguard-run <backend> <pid>@<host>`, where `backend` is the server process of the session
 * holding the lock that the command runs under, and `pid` the command's (the run's own until the
 * command has one); cut to 63 bytes, the host last.
 */
export function commandApplicationName(holderBackend: number, pid: number, host: string): string {
  return fit(`pidguard-run ${holderBackend} ${pid}@${host}`);
}

/** A command session, as its application_name tells it. */
export interface CommandHolder {
  /** The server process of the command session. */
  backend: number;
  /** The server process of the lock's session that the command ran under; null when not told. */
  holderBackend: number | null;
  pid: number | null;
  host: string | null;
}

/** Reads a command session's application_name (null: not one, or not shown: the session is ending). */
export function commandHolderOf(backend: number, name: string | null): CommandHolder {
  const match = /^pidguard-run (\d+) (\d+)@(.+)$/.exec(name ?? '');
  if (match === null) return { backend, holderBackend: null, pid: null, host: null };
  return { backend, holderBackend: Number(match[1]), pid: Number(match[2]), host: match[3] ?? null };
}

export interface Holder {
  /** The server process of the holder's session; null when nobody holds the lock. */
  backend: number | null;
  pid: number | null;
  host: string | null;
  since: Date | null;
  token: bigint | null;
}

/**
 * The holder from the table when the row was written by the backend that holds the lock now;
 * otherwise (the holder is between taking the lock and committing its row, or the table is not
 * readable) from its application_name, whose host may be cut short; else unknown.
 */
export function holderOf(row: HolderRow | undefined): Holder {
  if (row === undefined || row.backend === null)
    return { backend: null, pid: null, host: null, since: null, token: null };
  if (row.recorded === row.backend && row.token !== null) {
    return { backend: row.backend, pid: row.pid, host: row.host, since: row.since, token: BigInt(row.token) };
  }
  const match = /^pidguard (\d+)@(.+)$/.exec(row.application_name ?? '');
  return {
    backend: row.backend,
    pid: match === null ? null : Number(match[1]),
    host: match?.[2] ?? null,
    since: null,
    token: null,
  };
}

/**
 * The holder a failed attempt saw (sql.ts's tryAcquireSql), or null when it saw none it could
 * name: the lock was freed meanwhile, or its session was ending (gone from pg_stat_activity before
 * its locks are released), and a new attempt will tell.
 */
export function holderOfAttempt(holder: AttemptRow['holder']): Holder | null {
  if (holder === null) return null;
  const seen = holderOf({ ...holder, since: holder.since === null ? null : new Date(holder.since) });
  return seen.pid === null ? null : seen;
}
