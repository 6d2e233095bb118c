// `stop --retry`: start-stop-daemon's schedule of signals and waits, read from its text. Pure.

export type ScheduleStep =
  /** Send the signal to the holder (looked for anew each time). */
  | { kind: 'signal'; signal: NodeJS.Signals }
  /** Wait up to `ms` for the lock to be free. */
  | { kind: 'wait'; ms: number }
  /** Go back to step `to` (what start-stop-daemon's `forever` makes of the rest of the schedule). */
  | { kind: 'repeat'; to: number };

/** A mistake in a schedule; the message is one line. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

const SECONDS = /^\d+(\.\d+)?$|^\.\d+$/;

/**
 * `--retry <timeout>` or `--retry <schedule>`, as start-stop-daemon(8) reads them: a number alone
 * is `<signal>/<timeout>/KILL/<timeout>`, `signal` being -s's (TERM by default); a schedule is at
 * least two items separated by '/', each a signal (`TERM`, `-TERM`, `-15`: a bare number is a
 * timeout), a timeout in seconds (fractions allowed here, not there), or `forever`, once, which
 * repeats the rest of the schedule, which must then wait somewhere, until the lock is free.
 * `parseSignal` reads a signal's name or number, or throws.
 */
export function parseSchedule(
  text: string,
  signal: NodeJS.Signals,
  parseSignal: (name: string) => NodeJS.Signals,
): ScheduleStep[] {
  if (SECONDS.test(text)) {
    const ms = Math.round(Number(text) * 1000);
    return [
      { kind: 'signal', signal },
      { kind: 'wait', ms },
      { kind: 'signal', signal: 'SIGKILL' },
      { kind: 'wait', ms },
    ];
  }
  const items = text.split('/');
  if (items.length < 2)
    throw new ScheduleError(
      `a schedule has at least two items, separated by '/' (as TERM/30/KILL/5), or is one number of seconds: got '${text}'`,
    );
  const steps: ScheduleStep[] = [];
  let repeatFrom: number | null = null;
  for (const item of items) {
    if (item === 'forever') {
      if (repeatFrom !== null) throw new ScheduleError(`'forever' appears more than once in '${text}'`);
      repeatFrom = steps.length;
    } else if (SECONDS.test(item)) {
      steps.push({ kind: 'wait', ms: Math.round(Number(item) * 1000) });
    } else if (/^-?[A-Za-z][A-Za-z0-9+-]*$|^-\d+$/.test(item)) {
      steps.push({ kind: 'signal', signal: parseSignal(item.replace(/^-/, '')) });
    } else {
      throw new ScheduleError(`'${item}' in '${text}' is neither a signal, a number of seconds nor 'forever'`);
    }
  }
  if (repeatFrom !== null) {
    // Repeating steps that never wait would signal as fast as the machine can, forever.
    if (!steps.slice(repeatFrom).some((step) => step.kind === 'wait' && step.ms > 0)) {
      throw new ScheduleError(`what 'forever' repeats in '${text}' must wait a number of seconds`);
    }
    steps.push({ kind: 'repeat', to: repeatFrom });
  }
  return steps;
}

/** The schedule without --retry: the signal, then a wait of `ms` (stop's -t). */
export function simpleSchedule(signal: NodeJS.Signals, ms: number): ScheduleStep[] {
  return [
    { kind: 'signal', signal },
    { kind: 'wait', ms },
  ];
}
