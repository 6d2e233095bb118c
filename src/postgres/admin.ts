// What the pidguard command does to a fleet lock it does not hold: end the holder's session
// (`stop`), and wait until nobody holds it (`stop`, `wait`), in the server's own queue.
import { newClient } from './connection';
import type { PgClient } from './driver';
import { fleetError, serverError, sqlStateOf } from './errors';
import { checkName, lockKey, lockTag, targetOf } from './names';
import { environmentUrl, settleInspect, type FleetInspectOptions } from './options';
import { MAX_LOCK_TIMEOUT_MS, TERMINATE_SQL, WAIT_FREE_SQL } from './sql';

async function withClient<T>(name: string, options: FleetInspectOptions | undefined, doing: string, fn: (client: PgClient, target: string, server: string) => Promise<T>): Promise<T> {
  const target = targetOf(checkName(name));
  const settled = settleInspect(options, environmentUrl());
  const { client, server } = newClient(settled.config);
  client.on('error', () => {}); // reported by the calls below
  try {
    await client.connect();
    return await fn(client, target, server);
  } catch (error) {
    throw serverError(error, target, server, doing);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Ends the session of `backend` with pg_terminate_backend, if it still holds `name` (a backend
 * PID can be reused once its session ends). Resolves false when it no longer held the lock.
 * Without the right to (the holder's role, or pg_signal_backend), EPERM.
 */
export function terminateHolder(name: string, backend: number, options?: FleetInspectOptions): Promise<boolean> {
  return withClient(name, options, 'while ending the holder\'s session', async (client, target, server) => {
    const { classid, objid } = lockTag(lockKey(name));
    try {
      const { rows } = await client.query<{ terminated: boolean }>(TERMINATE_SQL, [name, classid, objid, backend]);
      return rows[0]?.terminated === true;
    } catch (error) {
      if (sqlStateOf(error) !== '42501') throw error;
      throw fleetError('EPERM', `may not end the holder's session (server process ${backend}): ${(error as Error).message}; ` +
        "connect as the holder's role or a member of pg_signal_backend", target, server, error, '42501');
    }
  });
}

/** Resolves true once nobody holds `name`, false when `timeoutMs` ends first (Infinity: never). */
export function waitUntilFree(name: string, timeoutMs: number, options?: FleetInspectOptions): Promise<boolean> {
  return withClient(name, options, 'while waiting for the lock to be free', async (client) => {
    const key = lockKey(name).toString();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const timeout = timeoutMs === Infinity ? '0' : String(Math.min(MAX_LOCK_TIMEOUT_MS, Math.max(1, Math.ceil(left))));
      try {
        await client.query(WAIT_FREE_SQL, [key, timeout]);
        return true;
      } catch (error) {
        if (sqlStateOf(error) !== '55P03') throw error;
      }
    }
  });
}
