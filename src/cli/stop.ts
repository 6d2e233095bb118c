// `pidguard stop`: signal the holder and wait until the lock is free, step by step as
// start-stop-daemon's --retry schedule: exit 0 once it is free, 1 when nothing held it (0 with
// --oknodo), 2 when the schedule ran out with the lock still held, 4 when whom to signal cannot
// be told.
import type { StopCommand } from './args';
import { waitUntilFree } from './free';
import { lookAt, type Look } from './look';
import { EXIT } from './messages';
import type { ScheduleStep } from './schedule';
import { searchHolder, signalTarget } from './stop-target';
import { pinProcess, type PinnedProcess } from '../process/pinned';
import { holderDoubt, judge, missingWhat, unlistedWhy, type Verdict } from './verdict';

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function say(line: string): void {
  process.stderr.write(`pidguard: ${line}\n`);
}

/** Nothing holds the lock: what the file or its absence says, and the status (0 with --oknodo). */
function nothingHeld(look: Look, verdict: Verdict, okNoDo: boolean): number {
  const recorded = look.status?.recordedPid ?? null;
  const stale = recorded === null ? '' : ` (it names PID ${recorded}, which does not hold the lock)`;
  say(`nothing holds ${look.path}${verdict.state === 'absent' ? ` (${missingWhat(look)})` : stale}`);
  return okNoDo ? 0 : EXIT.no;
}

type Sent = { kind: 'free'; look: Look; verdict: Verdict } | { kind: 'sent'; pid: number } | { kind: 'failed' };

/** Whom a signal for the lock's holder goes to: nobody (free), the holder's process, or cannot be told. */
type Target = Exclude<Sent, { kind: 'sent' }> | { kind: 'holder'; pid: number; path: string };

/** Looks at the lock and, if held, finds the process to signal: its holder, or the command of a `pidguard run` holder. */
async function findTarget(pidfile: string): Promise<Target> {
  const look = await lookAt(pidfile);
  const verdict = judge(look);
  if (verdict.state === 'unknown') {
    for (const note of verdict.notes) say(note);
    return { kind: 'failed' };
  }
  if (verdict.state !== 'running' || look.status === null) return { kind: 'free', look, verdict };
  const found = look.status;
  // Only a holder proven by its descriptors (Linux), or trusted where nothing proves one: never a
  // PID a killed holder left behind for another process to reuse.
  const why = look.unlisted ? unlistedWhy(look.path) : holderDoubt(found);
  const holder = verdict.pid ?? searchHolder(found, why);
  if (holder === null) {
    say(`${why}: cannot tell whom to signal`);
    return { kind: 'failed' };
  }
  return { kind: 'holder', pid: signalTarget(found, holder), path: look.path };
}

/** How many times the holder may change between its pin and its proof before stop gives up. */
const PIN_TRIES = 3;

/**
 * Signals the lock's holder, pinned first and proven again afterwards: were it to end and its PID
 * go to another process in between, the signal reaches nobody (ESRCH), never that process.
 */
async function signalHolder(pidfile: string, signal: NodeJS.Signals): Promise<Sent> {
  let target = await findTarget(pidfile);
  for (let tries = 1; target.kind === 'holder'; tries += 1) {
    const { pid, path } = target;
    const pinning = pinProcess(pid);
    // Gone since the look: what matters is that the lock is free, which the wait that follows sees.
    if (pinning.kind === 'gone') return { kind: 'sent', pid };
    if (pinning.kind === 'refused') {
      say(`${pinning.why}: cannot tell whom to signal for ${path}`);
      return { kind: 'failed' };
    }
    const { pin } = pinning;
    try {
      const proven = pin.pinned ? await findTarget(pidfile) : target;
      if (proven.kind !== 'holder') return proven;
      if (proven.pid !== pid) {
        if (tries >= PIN_TRIES) {
          say(
            `the process holding ${path} changed ${PIN_TRIES} times while stop looked at it: cannot tell whom to signal`,
          );
          return { kind: 'failed' };
        }
        target = proven;
        continue;
      }
      return sendTo(pin, signal, path);
    } finally {
      pin.close();
    }
  }
  return target;
}

function sendTo(pin: PinnedProcess, signal: NodeJS.Signals, path: string): Sent {
  try {
    pin.signal(signal);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ESRCH: it ended between the look and the signal; what matters is that the lock is free.
    if (code !== 'ESRCH') {
      say(`cannot send ${signal} to PID ${pin.pid}, which holds ${path}: ${code ?? (error as Error).message}`);
      return { kind: 'failed' };
    }
  }
  return { kind: 'sent', pid: pin.pid };
}

interface Progress {
  pid: number | null;
  signal: NodeJS.Signals | null;
  /** How long the last wait after the last signal was. */
  waitedMs: number;
}

function stillHeld(path: string, { pid, signal, waitedMs }: Progress): number {
  const force = signal === 'SIGKILL' ? '' : `; to force it: pidguard stop -s KILL ${path}`;
  say(`PID ${pid ?? 'unknown'} still holds ${path} ${seconds(waitedMs)} after ${signal ?? 'no signal'}${force}`);
  return EXIT.stillHeld;
}

async function runSchedule(first: Look, schedule: readonly ScheduleStep[], okNoDo: boolean): Promise<number> {
  const progress: Progress = { pid: null, signal: null, waitedMs: 0 };
  const done = (look: Look, verdict: Verdict): number =>
    progress.pid === null ? nothingHeld(look, verdict, okNoDo) : 0;
  for (let at = 0; at < schedule.length;) {
    const step = schedule[at];
    if (step === undefined) break;
    if (step.kind === 'repeat') {
      at = step.to;
      continue;
    }
    if (step.kind === 'signal') {
      const sent = await signalHolder(first.path, step.signal);
      if (sent.kind === 'failed') return EXIT.unknown;
      if (sent.kind === 'free') return done(sent.look, sent.verdict);
      Object.assign(progress, { pid: sent.pid, signal: step.signal, waitedMs: 0 });
    } else {
      let free: boolean;
      try {
        free = await waitUntilFree(first.path, step.ms);
      } catch (error) {
        say(`cannot tell whether ${first.path} is locked: ${(error as Error).message}`);
        return EXIT.unknown;
      }
      if (free) return progress.pid === null ? done(first, judge(first)) : 0;
      progress.waitedMs = step.ms;
    }
    at += 1;
  }
  return stillHeld(first.path, progress);
}

export async function stop({ pidfile, schedule, okNoDo }: StopCommand): Promise<number> {
  const look = await lookAt(pidfile);
  const verdict = judge(look);
  if (verdict.state === 'unknown') {
    for (const note of verdict.notes) say(note);
    return EXIT.unknown;
  }
  if (verdict.state !== 'running') return nothingHeld(look, verdict, okNoDo);
  return runSchedule(look, schedule, okNoDo);
}
