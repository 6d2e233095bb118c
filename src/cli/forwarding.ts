// The wrapper's signal forwarding, for `pidguard run` with either kind of lock: every signal a
// service expects is passed on to the command, and each second name of one (SIGIOT for SIGABRT,
// ...) is listened to and left to the first name's listener.
import type { Command } from './command';
import { forwardedSignals, signalAliases } from './signals';

/** For the second names of forwarded signals: the first name's listener passes the signal on. */
const ignore = (): void => {};

/**
 * Listens from now on, and passes each forwarded signal to whatever `command()` returns then
 * (nothing before the command has started). Listening from before the command starts: a signal
 * sent as soon as the command is seen running must not find this process with the default action,
 * which would end it. Listening also keeps signal-exit from releasing the lock on these signals:
 * the command decides when the service ends, and the lock is released after it has. Returns the
 * function that stops listening.
 */
export function forwardSignals(command: () => Command | undefined): () => void {
  const forwarded = forwardedSignals();
  const aliases = signalAliases(forwarded);
  const forward = (signal: NodeJS.Signals): void => {
    command()?.kill(signal);
  };
  for (const signal of forwarded) process.on(signal, forward);
  for (const alias of aliases) process.on(alias, ignore);
  return () => {
    for (const signal of forwarded) process.off(signal, forward);
    for (const alias of aliases) process.off(alias, ignore);
  };
}
