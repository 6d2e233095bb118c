// inspect(): who holds a lock, from any host, without taking it.
import { connectToPrimary, newClient } from './connection';
import { serverError } from './errors';
import { checkName, targetOf } from './names';
import { environmentUrl, settleInspect, type FleetInspectOptions } from './options';
import { readHolder } from './read-holder';

/** What inspect() finds. Every field but `name` and `locked` is null when nobody holds the lock. */
export interface FleetStatus {
  name: string;
  locked: boolean;
  /** The holder's PID and host. */
  pid: number | null;
  host: string | null;
  /** When the server granted the lock (its clock). */
  since: Date | null;
  /** The holder's fencing token. */
  token: bigint | null;
  /** The server process of the holder's session. */
  backend: number | null;
}

/**
 * Who holds `name`, on a short connection of its own. Reads pg_locks (the truth, which every role
 * may read) and the token table (the holder's PID, host, start and token, where the role may read
 * it; otherwise PID and host come from the holder's application_name and the rest is null).
 */
export async function inspect(name: string, options?: FleetInspectOptions): Promise<FleetStatus> {
  const checked = checkName(name);
  const target = targetOf(checked);
  const settled = settleInspect(options, environmentUrl());
  const { client, server } = newClient(target, settled.config);
  client.on('error', () => {}); // reported by the calls below
  try {
    await connectToPrimary(client, target, server);
    const holder = await readHolder((text, values) => client.query(text, values), checked, settled.schema);
    return { name: checked, locked: holder.backend !== null, ...holder };
  } catch (error) {
    throw serverError(error, target, server, 'while looking for the holder');
  } finally {
    await client.end().catch(() => {});
  }
}
