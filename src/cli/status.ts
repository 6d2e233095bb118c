// `pidguard status`: is the service running, and as which PID? For scripts and health checks.
import { inspect } from '../inspect';
import type { StatusCommand } from './args';
import { EXIT } from './messages';

export async function status({ pidfile, json }: StatusCommand): Promise<number> {
  const found = await inspect(pidfile);
  if (json) {
    process.stdout.write(`${JSON.stringify(found)}\n`);
  } else if (found.locked && found.pid !== null) {
    process.stdout.write(`${found.pid}\n`);
  } else if (found.locked) {
    process.stderr.write(`pidguard: ${found.path} is locked by a process that has not recorded its PID in it\n`);
  } else {
    process.stderr.write(`pidguard: ${found.path} is not locked: not running\n`);
  }
  return found.locked ? 0 : EXIT.no;
}
