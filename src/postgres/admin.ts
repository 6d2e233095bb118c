// What the pidguard command does to a fleet lock it does not hold: end the holder's session and
// wait until its command is gone (`stop`), wait until nobody holds the lock or runs a command
// under it (`wait`), and look at who does (`status`).
import { commandHolders } from './command-session';
import { connectToPrimary, newClient } from './connection';
import type { PgClient } from './driver';
import { fleetError, serverError, sqlStateOf } from './errors';
import type { CommandHolder } from './holder';
import { checkName, commandKey, lockKey, lockTag, targetOf } from './names';
import { environmentUrl, settleInspect, type FleetInspectOptions } from './options';
import { MAX_LOCK_TIMEOUT_MS, RUNNING_SQL, TERMINATE_SQL, WAIT_FREE_SQL, type RunningRow } from './sql';

/** How often `stop` looks again at whether the stopped holder and its command are gone (nothing in the server wakes a waiter on that). */
const STOP_POLL_MS = 20;

async function withClient<T>(
  name: string,
  options: FleetInspectOptions | undefined,
  doing: string,
  fn: (client: PgClient, target: string, server: string) => Promise<T>,
): Promise<T> {
  const target = targetOf(checkName(name));
  const settled = settleInspect(options, environmentUrl());
  const { client, server } = newClient(target, settled.config);
  client.on('error', () => {}); // reported by the calls below
  try {
    await connectToPrimary(client, target, server);
    return await fn(client, target, server);
  } catch (error) {
    throw serverError(error, target, server, doing);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Who runs under a lock: the server process of the session holding it (null: none), and the command sessions. */
export interface Running {
  holder: number | null;
  commands: CommandHolder[];
}

async function running(client: PgClient, name: string): Promise<Running> {
  const { rows } = await client.query<RunningRow>(RUNNING_SQL, [lockKey(name).toString(), commandKey(name).toString()]);
  return { holder: rows.find((row) => row.kind === 'lock')?.backend ?? null, commands: commandHolders(rows) };
}

/** Who holds `name` and who runs a command under it, now. */
export function lookRunning(name: string, options?: FleetInspectOptions): Promise<Running> {
  return withClient(name, options, 'while looking for the holder', (client) => running(client, name));
}

/** Whether a command session ran under the lock session of server process `backend` (unknown: assumed so). */
export function ranUnder(command: CommandHolder, backend: number): boolean {
  return command.holderBackend === null || command.holderBackend === backend;
}

export interface Stopped {
  /** Whether pg_terminate_backend ended the session (false: it no longer held the lock by then). */
  terminated: boolean;
  /** Whether the session is gone and no command that ran under it is left, within the time given. */
  stopped: boolean;
  /** The command sessions of the stopped holder still there at the end. */
  commands: CommandHolder[];
}

/**
 * Ends the session of `backend` with pg_terminate_backend, if it still holds `name` (a backend PID
 * can be reused once its session ends), and waits, for at most `timeoutMs`, until that session no
 * longer holds the lock and no command session that ran under it holds the command key: until the
 * holder's `pidguard run` has stopped its command, not merely until the lock is free (another may
 * take it at once). Without the right to end it (the holder's role, or pg_signal_backend), EPERM.
 */
export function stopHolder(
  name: string,
  backend: number,
  timeoutMs: number,
  options?: FleetInspectOptions,
): Promise<Stopped> {
  return withClient(name, options, "while ending the holder's session", async (client, target, server) => {
    const { classid, objid } = lockTag(lockKey(name));
    let terminated: boolean;
    try {
      const { rows } = await client.query<{ terminated: boolean }>(TERMINATE_SQL, [name, classid, objid, backend]);
      terminated = rows[0]?.terminated === true;
    } catch (error) {
      if (sqlStateOf(error) !== '42501') throw error;
      throw fleetError(
        'EPERM',
        `may not end the holder's session (server process ${backend}): ${(error as Error).message}; ` +
          "connect as the holder's role or a member of pg_signal_backend",
        target,
        server,
        error,
        '42501',
      );
    }
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const now = await running(client, name);
      const commands = now.commands.filter((command) => ranUnder(command, backend));
      if (now.holder !== backend && commands.length === 0) return { terminated, stopped: true, commands };
      if (performance.now() >= deadline) return { terminated, stopped: false, commands };
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(STOP_POLL_MS, Math.max(0, deadline - performance.now()))),
      );
    }
  });
}

/**
 * Resolves true once nobody holds `name` and no command runs under it (`pidguard run`'s command
 * key), false when `timeoutMs` ends first (Infinity: never). Waits in the server's queue for each.
 */
export function waitUntilFree(name: string, timeoutMs: number, options?: FleetInspectOptions): Promise<boolean> {
  return withClient(name, options, 'while waiting for the lock to be free', async (client) => {
    const deadline = performance.now() + timeoutMs;
    for (const key of [lockKey(name), commandKey(name)]) {
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return false;
        const timeout =
          timeoutMs === Infinity ? '0' : String(Math.min(MAX_LOCK_TIMEOUT_MS, Math.max(1, Math.ceil(left))));
        try {
          await client.query(WAIT_FREE_SQL, [key.toString(), timeout]);
          break;
        } catch (error) {
          if (sqlStateOf(error) !== '55P03') throw error;
        }
      }
    }
    return true;
  });
}
