// `pidguard wait`: wait until the lock is free, or, with --held, until it is held and the file
// names a live PID (a service started in the background is up, as far as its lock tells).
import { processRunning } from '../process/info';
import type { WaitCommand } from './args';
import { waitUntilFree } from './free';
import { lookAt, type Look } from './look';
import { EXIT } from './messages';
import { signalTarget } from './stop-target';
import { judge } from './verdict';
import { watchPath } from './watch-path';

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function say(line: string): void {
  process.stderr.write(`pidguard: ${line}\n`);
}

/**
 * The PID the file names, once the lock is held and that process runs and holds the lock, or is
 * the command of the process that does (`pidguard run --no-inherit`); else null. Where that
 * cannot be checked (another user's process; no proof on this platform), a running PID is taken.
 */
export function readyPid(look: Look): number | null {
  const found = look.status;
  if (found === null || !found.locked || found.recordedPid === null || !processRunning(found.recordedPid)) return null;
  if (found.recordedPidHolds !== false) return found.recordedPid;
  return found.pid !== null && signalTarget(found, found.pid) === found.recordedPid ? found.recordedPid : null;
}

/**
 * How often to look again while waiting for a holder: a lock taken without a write to the file
 * (flock(2) itself makes no inotify event) is seen this late. Where inotify cannot be had, it
 * is all there is.
 */
const HELD_RECHECK_MS = 1000;
const HELD_POLL_MS = 100;

async function waitHeld(pidfile: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let wake: () => void = () => {};
  const watch = watchPath(pidfile, () => wake(), { pollMs: HELD_POLL_MS, persistent: true });
  try {
    for (;;) {
      const look = await lookAt(pidfile);
      const verdict = judge(look);
      if (verdict.state === 'unknown') {
        for (const note of verdict.notes) say(note);
        return EXIT.unknown;
      }
      const pid = readyPid(look);
      if (pid !== null) {
        process.stdout.write(`${pid}\n`);
        return 0;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        say(`${look.path} is not held by a process it names after ${seconds(timeoutMs)}`);
        return EXIT.no;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, HELD_RECHECK_MS));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = () => {};
    }
  } finally {
    watch.close();
  }
}

async function waitFree(pidfile: string, timeoutMs: number): Promise<number> {
  const look = await lookAt(pidfile);
  const verdict = judge(look);
  if (verdict.state === 'unknown') {
    for (const note of verdict.notes) say(note);
    return EXIT.unknown;
  }
  try {
    if (await waitUntilFree(look.path, timeoutMs)) return 0;
  } catch (error) {
    say(`cannot tell whether ${look.path} is locked: ${(error as Error).message}`);
    return EXIT.unknown;
  }
  say(`${pidfile} is still locked after ${seconds(timeoutMs)}`);
  return EXIT.no;
}

export async function wait({ pidfile, timeoutMs, held }: WaitCommand): Promise<number> {
  return held ? waitHeld(pidfile, timeoutMs) : waitFree(pidfile, timeoutMs);
}
