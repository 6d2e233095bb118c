// acquire() and connect(): a lock with a session of its own, or a session to take locks on.
import { abortReason } from '../errors';
import type { FleetLock } from './lock';
import { checkName, targetOf } from './names';
import {
  environmentUrl,
  settleConnect,
  settleFleetOptions,
  type FleetConnectOptions,
  type FleetOptions,
} from './options';
import { FleetSession } from './session';

/**
 * Takes the lock `name` on PostgreSQL, on a dedicated connection that it closes on release.
 * Rejects with LockedError (ELOCKED, with the holder's `pid` and `host`) when another session
 * holds it and the wait, if any, ran out; with the signal's reason when aborted; and with an
 * error carrying a Node-style code and the target (ECONNREFUSED, ETIMEDOUT, EACCES, ENOENT,
 * ENOTSUP for a transaction pooler, ...) when it cannot be taken at all. Nothing is left behind
 * on failure: the connection is closed, and the server holds nothing for it.
 */
export async function acquire(name: string, options?: FleetOptions): Promise<FleetLock> {
  const checked = checkName(name);
  const settled = settleFleetOptions(options, environmentUrl());
  if (settled.acquire.signal?.aborted === true) throw abortReason(settled.acquire.signal);
  const session = await FleetSession.open(settled.connect, targetOf(checked));
  try {
    return await session.take(checked, settled.acquire, true);
  } catch (error) {
    await session.close();
    throw error;
  }
}

/**
 * A session of its own to take locks on, one at a time, each in one round trip (and one to give
 * it back): for a process that takes the same lock again and again. close() ends it.
 */
export async function connect(options?: FleetConnectOptions): Promise<FleetSession> {
  return FleetSession.open(settleConnect(options, environmentUrl()), 'postgres:');
}
