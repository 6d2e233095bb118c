// The signals `pidguard run` passes on to its command: the one list, which docs/command.md
// repeats word for word (a test compares them). Pure.
import { constants } from 'node:os';

/**
 * On Linux, every signal Node lets a process listen to that would end pidguard, or that a
 * service expects to receive, as tini and dumb-init pass them on. Listening to one also keeps
 * pidguard alive through it: the command decides when the service ends.
 *
 * Left out, on purpose: SIGKILL and SIGSTOP (nobody can listen to them); SIGSEGV, SIGBUS, SIGFPE
 * and SIGILL (a real fault returns to the faulting instruction, so a listener would loop);
 * SIGCHLD (about pidguard's own children); SIGPIPE (Node ignores it); SIGTSTP, SIGTTIN and
 * SIGTTOU (job control: at a terminal they reach the whole foreground process group, the command
 * included, and a listener would keep pidguard from stopping when the shell stops the job).
 * Real-time signals cannot be listened to in Node: one kills pidguard by its default action.
 * SIGIOT and SIGPOLL, other names of SIGABRT and SIGIO, are in signalAliases().
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTRAP',
  'SIGABRT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCONT',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];

/**
 * Windows has no descriptor for the command to share and delivers only a few of these: the list
 * pidguard has always used there, which Node accepts listeners for.
 */
const WINDOWS_FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** The signals to pass on here: the list above, less those this platform does not have (macOS has no SIGPWR). */
export function forwardedSignals(platform: NodeJS.Platform = process.platform): readonly NodeJS.Signals[] {
  if (platform === 'win32') return WINDOWS_FORWARDED;
  return FORWARDED_SIGNALS.filter((signal) => signal in constants.signals);
}

/**
 * The other names Node has for the signals in `signals` (SIGIOT for SIGABRT, SIGPOLL for SIGIO).
 * Node calls a listener only for the name it was added under, once per name listened to, so
 * pidguard listens to these too, and passes nothing on from them: signal-exit listens to both
 * names, and finding no other listener on the second it would run the exit cleanup, unload
 * itself and raise the signal again, which would give up a lock the command does not share.
 */
export function signalAliases(signals: readonly NodeJS.Signals[]): NodeJS.Signals[] {
  const numbers = constants.signals as Record<string, number>;
  const listed = new Set(signals.map((name) => numbers[name]));
  return Object.keys(numbers).filter(
    (name) => listed.has(numbers[name]) && !signals.includes(name as NodeJS.Signals),
  ) as NodeJS.Signals[];
}
