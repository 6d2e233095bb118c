// `pidguard status`: is the service running, and as which PID? For scripts and health checks.
import { unnamedHolder } from '../errors';
import { inspect } from '../inspect';
import type { LockStatus } from '../status';
import type { StatusCommand } from './args';
import { EXIT } from './messages';

/** The holder's PID to print: one proven to hold the lock, or, where nothing proves it, trusted. */
export function namedHolder(found: LockStatus): number | null {
  return found.holderProof === 'fd' || found.holderProof === 'pid-file' ? found.pid : null;
}

/** What is known of the holder of a locked file that has no holder to name. */
export function holderDoubt(found: LockStatus): string {
  const uncheckedPid = found.holderProof === 'proc-locks' ? found.pid : null;
  return unnamedHolder(found.path, { recordedPid: found.recordedPid, recordedPidHolds: found.recordedPidHolds, uncheckedPid });
}

export async function status({ pidfile, json }: StatusCommand): Promise<number> {
  const found = await inspect(pidfile);
  const pid = namedHolder(found);
  if (json) {
    process.stdout.write(`${JSON.stringify(found)}\n`);
  } else if (found.locked && pid !== null) {
    process.stdout.write(`${pid}\n`);
    // A PID left in the file by a killed holder, or written in another PID namespace.
    if (found.recordedPid !== null && found.recordedPid !== pid && found.recordedPidHolds === false) {
      process.stderr.write(`pidguard: note: ${found.path} names PID ${found.recordedPid}, which does not hold the lock\n`);
    }
  } else if (found.locked) {
    process.stderr.write(`pidguard: ${holderDoubt(found)}\n`);
  } else {
    process.stderr.write(`pidguard: ${found.path} is not locked: not running\n`);
  }
  return found.locked ? 0 : EXIT.no;
}
