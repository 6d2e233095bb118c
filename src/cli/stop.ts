// `pidguard stop` and `pidguard wait`: end the holder, or wait for it to end.
import { inspect } from '../inspect';
import { familyHead } from '../holder-proof';
import { lockedFile } from '../kernel-locks';
import { holdersProvable, scanHolders } from '../lock-holders';
import { runProcSync } from '../proc-io';
import { readPidFileSync } from '../read-pid';
import type { LockStatus } from '../status';
import type { StopCommand, WaitCommand } from './args';
import { lockedUnlisted, waitUntilFree } from './free';
import { EXIT } from './messages';
import { holderDoubt, namedHolder } from './verdict';

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

/**
 * Where neither the file's PID nor the kernel's record is proven to hold the lock (both gone, or
 * not readable by this user), looks through every process's descriptors for the holder (Linux).
 * Of a family sharing the locked file (a command and the children it passed it to), the eldest.
 */
function searchHolder(found: LockStatus, why: string): number | null {
  if (found.mode !== 'kernel' || !holdersProvable()) return null;
  const file = lockedFile(readPidFileSync(found.path, true));
  if (file === null) return null;
  const scan = runProcSync(scanHolders(file));
  const head = familyHead(scan.holders);
  if (head !== null) {
    process.stderr.write(`pidguard: ${why}; found PID ${head} holding it by looking through /proc/*/fd\n`);
  } else if (scan.holders.length > 1) {
    process.stderr.write(`pidguard: ${found.path} is held by PIDs ${scan.holders.map((holder) => holder.pid).join(', ')}, none of them the parent of the others\n`);
  }
  return head;
}

export async function stop({ pidfile, signal, timeoutMs }: StopCommand): Promise<number> {
  const found = await inspect(pidfile);
  const unlisted = !found.locked && lockedUnlisted(found);
  if (!found.locked && !unlisted) {
    const stale = found.recordedPid === null ? '' : ` (it names PID ${found.recordedPid}, which does not hold the lock)`;
    process.stderr.write(`pidguard: nothing holds ${found.path}${stale}\n`);
    return EXIT.no;
  }
  // Only a holder proven by its descriptors (Linux), or trusted where nothing proves one: never a
  // PID a killed holder left behind for another process to reuse.
  const why = unlisted
    ? `${found.path} is locked, but /proc/locks does not list it (the process that took it has ended, or is in a PID namespace this one cannot see)`
    : holderDoubt(found);
  const pid = namedHolder(found) ?? searchHolder(found, why);
  if (pid === null) {
    process.stderr.write(`pidguard: ${why}: cannot tell whom to signal\n`);
    return EXIT.no;
  }
  try {
    process.kill(pid, signal);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ESRCH: it ended between the look and the signal; what matters is that the lock is free.
    if (code !== 'ESRCH') {
      process.stderr.write(`pidguard: cannot send ${signal} to PID ${pid}, which holds ${found.path}: ${code ?? (error as Error).message}\n`);
      return EXIT.failure;
    }
  }
  if (await waitUntilFree(found.path, timeoutMs)) return 0;
  process.stderr.write(
    `pidguard: PID ${pid} still holds ${found.path} ${seconds(timeoutMs)} after ${signal}; ` +
      `to force it: pidguard stop -s KILL ${found.path}\n`,
  );
  return EXIT.no;
}

export async function wait({ pidfile, timeoutMs }: WaitCommand): Promise<number> {
  if (await waitUntilFree(pidfile, timeoutMs)) return 0;
  process.stderr.write(`pidguard: ${pidfile} is still locked after ${seconds(timeoutMs)}\n`);
  return EXIT.no;
}
