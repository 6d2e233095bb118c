// What the pidguard command prints for a lock across hosts, and the exit status of a lost lock. Pure.
import type { CommandHolder } from '../postgres/holder';
import type { FleetStatus } from '../postgres/inspect';
import { DEFAULT_GRACE_MS } from './fleet-args';

/** run: the lock was lost while the command ran, and the command was stopped (sysexits' EX_UNAVAILABLE). */
export const EXIT_LOST = 69;

/** The lines a refused `run` prints: who holds the lock, where, and how to stop it. */
export function fleetConflictMessage(target: string, pid: number | null, host: string | null): string {
  if (pid === null || host === null)
    return `pidguard: ${target} is locked by a session that has not recorded its holder\n`;
  return (
    `pidguard: ${target} is locked: already running as PID ${pid} on ${host}\n` +
    `pidguard: to stop it: pidguard stop ${target}  (or on ${host}: kill ${pid})\n`
  );
}

/** Who runs an earlier command, in words: "PID 4242 on web-3", or what is known of it. */
function commandWords(holder: CommandHolder): string {
  if (holder.pid === null || holder.host === null) return `a session ending now (server process ${holder.backend})`;
  return `PID ${holder.pid} on ${holder.host}`;
}

/**
 * The lines a `run` prints when it holds the lock but the command of an earlier holder is still
 * running (its run stopping it after a loss, or killed and leaving it behind).
 */
export function earlierCommandMessage(target: string, holders: readonly CommandHolder[]): string {
  const named = holders.find((holder) => holder.pid !== null && holder.host !== null);
  const lines = [
    `pidguard: ${target} is locked: the command of an earlier holder is still running as ${holders.length === 0 ? 'an unknown process' : commandWords(named ?? (holders[0] as CommandHolder))}
`,
  ];
  if (named !== undefined)
    lines.push(`pidguard: to stop it: on ${named.host ?? ''}: kill ${named.pid ?? ''}
`);
  return lines.join('');
}

/** run: the lock was lost while the command ran: the line before it is stopped. */
export function lostMessage(why: string, graceMs: number): string {
  return `pidguard: ${why}
pidguard: stopping the command and its processes: SIGTERM, then SIGKILL after ${graceMs / 1000} s
`;
}

/** run: the lock was lost before the command started: it is not started. */
export function lostBeforeStartMessage(why: string): string {
  return `pidguard: ${why}
pidguard: the lock was lost before the command started; it was not started
`;
}

/** run: processes of the command still there after SIGKILL (another user's, or unkillable). */
export function survivorsMessage(pids: readonly number[]): string {
  return `pidguard: warning: processes of the command still running after SIGKILL: ${pids.join(', ')}
`;
}

/** stop or status: a command left running under the lock with no holder (its run was killed, or is stopping it). */
export function orphanLine(target: string, command: CommandHolder): string {
  return `pidguard: the command of an earlier holder of ${target} is still running as ${commandWords(command)}\n`;
}

/** stop: the holder's session was ended, but it or its command is still there when the time is up. */
export function stillRunningMessage(target: string, timeoutMs: number, commands: readonly CommandHolder[]): string {
  const what =
    commands.length === 0
      ? 'its session is still there'
      : `its command is still running as ${commands.map(commandWords).join(', ')}`;
  return `pidguard: ${target}: ${timeoutMs / 1000} s after the holder's session was ended, ${what}\n`;
}

/** `status`: one line for people (two when a command runs under the lock with no holder). */
export function fleetStatusLine(target: string, status: FleetStatus, commands: readonly CommandHolder[] = []): string {
  if (!status.locked) {
    if (commands.length === 0) return `${target} is not locked: not running\n`;
    return `${target} is not locked, but the command of an earlier holder is still running as ${commands.map(commandWords).join(', ')}\n`;
  }
  const who =
    status.pid === null
      ? 'a session that has not recorded its holder'
      : `PID ${status.pid} on ${status.host ?? 'an unknown host'}`;
  const since = status.since === null ? '' : ` since ${status.since.toISOString()}`;
  const token = status.token === null ? '' : ` (fencing token ${status.token})`;
  return `${target}: held by ${who}${since}${token}\n`;
}

/**
 * `status --json`: the status, with the token as a string (JSON has no 64-bit integers), and
 * `commands`: the commands running under the lock with no holder (PID, host, server process).
 */
export function fleetStatusJson(target: string, status: FleetStatus, commands: readonly CommandHolder[] = []): string {
  return `${JSON.stringify({
    ...status,
    target,
    since: status.since?.toISOString() ?? null,
    token: status.token?.toString() ?? null,
    commands: commands.map(({ pid, host, backend }) => ({ pid, host, backend })),
  })}\n`;
}

export const FLEET_HELP = `Usage, for one copy across hosts (PostgreSQL advisory locks; docs/across-hosts.md):
  pidguard run [-w <seconds>] [-E <n>] [--grace <seconds>] [--proxy <policy>] postgres:<name> [--] <command> [args...]
  pidguard run [options] postgres:<name> -c <string>
  pidguard status [--json] postgres:<name>
  pidguard stop [-t <seconds>] [-o] postgres:<name>
  pidguard wait [-t <seconds>] postgres:<name>

The server is PIDGUARD_POSTGRES_URL, else libpq's PG* variables (PGHOST, PGUSER, PGPASSWORD, ...).

run      Take the lock on a session of its own, wait for the command of an earlier holder to
         be gone, run the command (with PIDGUARD_LOCK_TOKEN, the fencing token, in its
         environment, and a second session, the command session, as fd 3: it lasts as long as
         the command and what it starts, also if pidguard is killed), forward signals to it and
         exit with its status. When the lock is lost (the session ended, the server restarted, a
         partition), send the command and its processes SIGTERM, then SIGKILL after the grace,
         and exit ${EXIT_LOST}.
  -w, --wait <seconds|forever>    wait that long for the lock (default: do not wait)
  -E, --conflict-exit-code <n>    exit status when the lock is held (default: 1)
      --grace <seconds>           between SIGTERM and SIGKILL once lost (default: ${DEFAULT_GRACE_MS / 1000}; also --kill-after)
      --proxy <policy>            warn (default), refuse or allow a TCP proxy between this host and
                                  the server (docs/across-hosts.md)
status   Print who holds the lock (or runs a command under it) and exit 0; exit 1 when nobody does.
stop     End the holder's session (pg_terminate_backend), so that its run stops its command,
         and wait until that command and its processes are gone; exit 1 when nothing holds the
         lock (0 with -o, --oknodo) or the timeout ends first.
wait     Wait until nobody holds the lock or runs a command under it; exit 1 if the timeout ends first.
`;
