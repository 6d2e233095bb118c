// What the pidguard command prints for a lock across hosts, and the exit status of a lost lock. Pure.
import type { FleetStatus } from '../postgres/inspect';
import { DEFAULT_GRACE_MS } from './fleet-args';

/** run: the lock was lost while the command ran, and the command was stopped (sysexits' EX_UNAVAILABLE). */
export const EXIT_LOST = 69;

/** The lines a refused `run` prints: who holds the lock, where, and how to stop it. */
export function fleetConflictMessage(target: string, pid: number | null, host: string | null): string {
  if (pid === null || host === null) return `pidguard: ${target} is locked by a session that has not recorded its holder\n`;
  return `pidguard: ${target} is locked: already running as PID ${pid} on ${host}\n` +
    `pidguard: to stop it: pidguard stop ${target}  (or on ${host}: kill ${pid})\n`;
}

/** `status`: one line for people. */
export function fleetStatusLine(target: string, status: FleetStatus): string {
  if (!status.locked) return `${target} is not locked: not running\n`;
  const who = status.pid === null ? 'a session that has not recorded its holder' : `PID ${status.pid} on ${status.host ?? 'an unknown host'}`;
  const since = status.since === null ? '' : ` since ${status.since.toISOString()}`;
  const token = status.token === null ? '' : ` (fencing token ${status.token})`;
  return `${target}: held by ${who}${since}${token}\n`;
}

/** `status --json`: the status, with the token as a string (JSON has no 64-bit integers). */
export function fleetStatusJson(target: string, status: FleetStatus): string {
  return `${JSON.stringify({ ...status, target, since: status.since?.toISOString() ?? null, token: status.token?.toString() ?? null })}\n`;
}

export const FLEET_HELP = `Usage, for one copy across hosts (PostgreSQL advisory locks; README, "Across hosts"):
  pidguard run [-w <seconds>] [-E <n>] [--grace <seconds>] postgres:<name> -- <command> [args...]
  pidguard status [--json] postgres:<name>
  pidguard stop [-t <seconds>] postgres:<name>
  pidguard wait [-t <seconds>] postgres:<name>

The server is PIDGUARD_POSTGRES_URL, else libpq's PG* variables (PGHOST, PGUSER, PGPASSWORD, ...).

run      Take the lock on a session of its own, run the command (with PIDGUARD_LOCK_TOKEN, the
         fencing token, in its environment), forward signals to it and exit with its status.
         When the lock is lost (the session ended, the server restarted, a partition), send the
         command SIGTERM, then SIGKILL after the grace, and exit ${EXIT_LOST}.
  -w, --wait <seconds|forever>    wait that long for the lock (default: do not wait)
  -E, --conflict-exit-code <n>    exit status when the lock is held (default: 1)
      --grace <seconds>           between SIGTERM and SIGKILL once lost (default: ${DEFAULT_GRACE_MS / 1000})
status   Print who holds the lock and exit 0; exit 1 when nobody does.
stop     End the holder's session (pg_terminate_backend), so that its run stops its command,
         and wait until the lock is free; exit 1 when nothing holds it or the timeout ends first.
wait     Wait until the lock is free; exit 1 if the timeout ends first.
`;
