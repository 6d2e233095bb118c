// Who holds a lock, as the server shows it to anyone: decided from one row of sql.ts's holderSql.
// Pure.
import type { AttemptRow, HolderRow } from './sql';

/** The application_name a holder's session carries: `pidguard <pid>@<host>`, cut to the server's 63 bytes. */
export function applicationName(pid: number, host: string): string {
  let name = `pidguard ${pid}@${host}`;
  while (Buffer.byteLength(name, 'utf8') > 63) name = name.slice(0, -1);
  return name;
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
  if (row === undefined || row.backend === null) return { backend: null, pid: null, host: null, since: null, token: null };
  if (row.recorded === row.backend && row.token !== null) {
    return { backend: row.backend, pid: row.pid, host: row.host, since: row.since, token: BigInt(row.token) };
  }
  const match = /^pidguard (\d+)@(.+)$/.exec(row.application_name ?? '');
  return { backend: row.backend, pid: match === null ? null : Number(match[1]), host: match?.[2] ?? null, since: null, token: null };
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
