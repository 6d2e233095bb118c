// `pidguard stop` and `pidguard wait`: end the holder, or wait for it to end.
import { inspect } from '../inspect';
import type { StopCommand, WaitCommand } from './args';
import { waitUntilFree } from './free';
import { EXIT } from './messages';

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

export async function stop({ pidfile, signal, timeoutMs }: StopCommand): Promise<number> {
  const found = await inspect(pidfile);
  if (!found.locked) {
    const stale = found.recordedPid === null ? '' : ` (it names PID ${found.recordedPid}, which does not hold the lock)`;
    process.stderr.write(`pidguard: nothing holds ${found.path}${stale}\n`);
    return EXIT.no;
  }
  if (found.pid === null) {
    process.stderr.write(`pidguard: ${found.path} is locked by a process that has not recorded its PID: cannot tell whom to signal\n`);
    return EXIT.no;
  }
  try {
    process.kill(found.pid, signal);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ESRCH: it ended between the look and the signal; what matters is that the lock is free.
    if (code !== 'ESRCH') {
      process.stderr.write(`pidguard: cannot send ${signal} to PID ${found.pid}, which holds ${found.path}: ${code ?? (error as Error).message}\n`);
      return EXIT.failure;
    }
  }
  if (await waitUntilFree(found.path, timeoutMs)) return 0;
  process.stderr.write(
    `pidguard: PID ${found.pid} still holds ${found.path} ${seconds(timeoutMs)} after ${signal}; ` +
      `to force it: pidguard stop -s KILL ${found.path}\n`,
  );
  return EXIT.no;
}

export async function wait({ pidfile, timeoutMs }: WaitCommand): Promise<number> {
  if (await waitUntilFree(pidfile, timeoutMs)) return 0;
  process.stderr.write(`pidguard: ${pidfile} is still locked after ${seconds(timeoutMs)}\n`);
  return EXIT.no;
}
