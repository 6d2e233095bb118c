// `pidguard run`: take the lock, run the command under it, and end with the command's status.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { acquire } from '../acquire';
import { LockedError } from '../errors';
import type { PidLock } from '../pid-lock';
import { readCommandLine } from '../process-info';
import type { RunCommand } from './args';
import { conflictMessage, EXIT } from './messages';
import { forwardedSignals, signalAliases } from './signals';

/** Where the command finds the locked descriptor when it inherits it: the first after stdio. */
const INHERITED_FD = 3;

function start(lock: PidLock, { command, inherit }: RunCommand): ChildProcess {
  const fd = inherit ? lock.descriptor() : null;
  const [file, ...args] = command as [string, ...string[]];
  // A descriptor in the stdio array is dup2()ed into the child without close-on-exec, the way
  // flock(1) hands its lock to the command; the open file description, and so the lock, is then
  // shared with the command and outlives this process if it is killed.
  return spawn(file, args, {
    stdio: fd === null ? 'inherit' : ['inherit', 'inherit', 'inherit', fd],
    env: fd === null ? process.env : { ...process.env, PIDGUARD_LOCK_FD: String(INHERITED_FD) },
  });
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
}

function cannotRun(name: string, error: NodeJS.ErrnoException): number {
  const notFound = error.code === 'ENOENT';
  const why = notFound ? 'command not found' : `${error.code ?? 'error'}: ${error.message}`;
  process.stderr.write(`pidguard: cannot run '${name}': ${why}\n`);
  return notFound ? EXIT.notFound : EXIT.cannotExecute;
}

/** Records the command's PID in the file; false (with a warning) when it could not. */
function recordCommandPid(lock: PidLock, pid: number): boolean {
  try {
    lock.recordPid(pid);
    return true;
  } catch (error) {
    // The file keeps naming this process, which holds the lock and forwards signals.
    process.stderr.write(`pidguard: warning: could not record PID ${pid}: ${(error as Error).message}\n`);
    return false;
  }
}

/** For the second names of forwarded signals: the first name's listener passes the signal on. */
const ignore = (): void => {};

/** Runs the command while `lock` is held; resolves with the status to exit with. */
async function runHolding(lock: PidLock, run: RunCommand): Promise<number> {
  const forwarded = forwardedSignals();
  let child: ChildProcess | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    child?.kill(signal);
  };
  // Listening from before the command starts: a signal sent as soon as the command is seen
  // running must not find this process with the default action, which would end it. Listening
  // also keeps signal-exit from releasing the lock on these signals: the command decides when
  // the service ends, and the lock is released after it has.
  for (const signal of forwarded) process.on(signal, forward);
  const aliases = signalAliases(forwarded);
  for (const alias of aliases) process.on(alias, ignore);
  // From the spawn on, the command holds the lock too (it inherits the locked open file), and
  // whatever ends this process must leave the lock and the file to it, until its exit is seen.
  const inherits = run.inherit && lock.descriptor() !== null;
  if (inherits) lock.shareWithChild(true);
  try {
    const started = start(lock, run);
    child = started;
    if (started.pid !== undefined && !run.recordSelf) {
      // In mode 'pidfile' the file naming the live command is what holds the lock.
      if (recordCommandPid(lock, started.pid) && lock.mode === 'pidfile') lock.shareWithChild(true);
    }
    return await new Promise<number>((resolve) => {
      started.on('error', (error: NodeJS.ErrnoException) => {
        // After a failed spawn; an error once running (a failed kill) changes nothing here.
        if (started.pid === undefined) resolve(cannotRun(run.command[0] ?? '', error));
      });
      started.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
    });
  } finally {
    lock.shareWithChild(false);
    for (const signal of forwarded) process.off(signal, forward);
    for (const alias of aliases) process.off(alias, ignore);
  }
}

export async function run(command: RunCommand): Promise<number> {
  let lock: PidLock;
  try {
    lock = await acquire(command.pidfile, { wait: command.waitMs });
  } catch (error) {
    if (!(error instanceof LockedError)) throw error;
    const holder = error.pid === null ? null : readCommandLine(error.pid);
    process.stderr.write(conflictMessage(error.path, error.pid, holder));
    return command.conflictExitCode;
  }
  try {
    return await runHolding(lock, command);
  } finally {
    lock.release(); // removes the PID file, while still locked, if it is still ours
  }
}
