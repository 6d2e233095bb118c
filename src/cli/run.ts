// `pidguard run`: take the lock, run the command under it, and end with the command's status.
import { constants } from 'node:os';
import { acquire } from '../acquire';
import { LockedError } from '../errors';
import { environmentMode } from '../options';
import type { PidLock } from '../pid-lock';
import { processRunning, readCommandLine } from '../process/info';
import type { RunCommand } from './args';
import { POSIX_SHELL, reportCannotRun, startCommand, type Command, type CommandEnd } from './command';
import {
  commandExitStatus,
  conflictMessage,
  EXIT,
  lostMessage,
  pidSelfRefusal,
  retakenMessage,
  unheldMessage,
} from './messages';
import { forwardSignals } from './forwarding';
import { forwardedSignals } from './signals';
import { Tenure } from './tenure';

/** Where the command finds the locked descriptor when it inherits it: the first after stdio. */
const INHERITED_FD = 3;

function ended(pid: number, end: CommandEnd): number {
  const status = end.waitError === undefined ? commandExitStatus(end.code, end.signal) : null;
  if (status !== null) return status;
  const why = end.waitError?.message ?? `exit code ${end.code}, signal ${end.signal}`;
  process.stderr.write(`pidguard: the command (PID ${pid}) has ended, but how could not be told: ${why}\n`);
  return EXIT.failure;
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

/**
 * In mode 'pidfile' the file naming the live command is what holds the lock once the command
 * runs, so a command whose PID cannot be recorded is given up before it runs (false).
 */
function recordOrCancel(lock: PidLock, command: Command, name: string): boolean {
  try {
    lock.recordPid(command.pid ?? 0);
  } catch (error) {
    command.cancel();
    process.stderr.write(
      `pidguard: cannot run '${name}': mode 'pidfile' needs its PID in the file, and ${(error as Error).message}\n`,
    );
    return false;
  }
  lock.shareWithChild(true);
  return true;
}

/** Prepares the command, with the locked descriptor as fd 3 when it is to inherit it. */
function start(fd: number | null, run: RunCommand): Command {
  return startCommand(run.command, {
    // PIDGUARD_RUN_PID tells `stop` that this is the command of the wrapper with that PID
    // (stop-target.ts), whether or not it inherits the lock.
    env: {
      ...process.env,
      PIDGUARD_RUN_PID: String(process.pid),
      ...(fd === null ? {} : { PIDGUARD_LOCK_FD: String(INHERITED_FD) }),
    },
    lockFd: fd,
    // A container's PID 1 inherits every orphan in it, and must reap them as tini does.
    reapOthers: process.pid === 1 && process.platform === 'linux',
    shell: run.shell,
  });
}

/** The name to say the command by when it cannot be run: the shell's, for -c. */
function commandName(run: RunCommand): string {
  if (run.shell) return process.platform === 'win32' ? (process.env['ComSpec'] ?? 'cmd.exe') : POSIX_SHELL;
  return run.command[0] ?? '';
}

/**
 * Keeps the path while the command runs (tenure.ts): a file taken again is made to name the
 * command, as the first was; one lost to another holder means the command must stop, with
 * SIGTERM, then SIGKILL after --kill-after, as `consul lock` stops its child when its lock is
 * lost. `tenure.lost` then tells how the run ended.
 */
function keepPath(tenure: Tenure, command: Command, pid: number, run: RunCommand): void {
  let killer: NodeJS.Timeout | null = null;
  void command.ended.then(() => {
    if (killer !== null) clearTimeout(killer);
  });
  let ended = false;
  void command.ended.then(() => {
    ended = true;
  });
  tenure.watch({
    // Ended, or exited and not reaped yet (a zombie is not running): its own child, whose PID
    // cannot be reused before this process reaps it.
    ended: () => ended || !processRunning(pid),
    retaken(lock) {
      // In mode 'pidfile' the file naming the command is what holds the path: a failure to
      // record it throws, and the path counts as lost. In mode 'kernel' the running command
      // cannot be handed the new descriptor: pidguard alone holds the new lock, and a failed
      // record leaves its own PID in the file, as at the start.
      const record = !run.recordSelf && !run.shared;
      if (lock.mode === 'pidfile') {
        lock.recordPid(pid);
        lock.shareWithChild(true);
      } else if (record) {
        recordCommandPid(lock, pid);
      }
      process.stderr.write(retakenMessage(lock.path, record ? pid : null));
    },
    lost(why) {
      process.stderr.write(lostMessage(tenure.lock.path, why, pid, run.killAfterMs));
      command.kill('SIGTERM');
      killer = setTimeout(() => command.kill('SIGKILL'), run.killAfterMs);
    },
    unheld(error) {
      process.stderr.write(unheldMessage(tenure.lock.path, error.message));
    },
  });
}

/** Runs the command while the tenure's lock is held; resolves with the status to exit with. */
async function runHolding(tenure: Tenure, run: RunCommand): Promise<number> {
  const lock = tenure.lock;
  let command: Command | undefined;
  const stopForwarding = forwardSignals(() => command);
  const fd = run.inherit ? lock.descriptor() : null;
  // From the spawn on, the command holds the lock too (it inherits the locked open file), and
  // whatever ends this process must leave the lock and the file to it, until its end is seen.
  if (fd !== null) lock.shareWithChild(true);
  try {
    command = start(fd, run);
    const name = commandName(run);
    // The addon holds the command's process before its exec: its PID is recorded before it runs
    // anything, so that a pidguard killed now leaves a file naming a process that will never run
    // the command (it exits as pidguard's end closes its gate), not a dead PID beside a live one.
    // A shared lock records no PID.
    if (command.pid !== null && !run.recordSelf && !run.shared) {
      if (lock.mode !== 'pidfile') recordCommandPid(lock, command.pid);
      else if (!recordOrCancel(lock, command, name)) return EXIT.failure;
    }
    let pid: number;
    try {
      pid = await command.run();
    } catch (error) {
      return reportCannotRun(name, error as NodeJS.ErrnoException);
    }
    // Node's spawn (Windows, or no addon) tells the PID only now.
    if (
      command.pid === null &&
      !run.recordSelf &&
      !run.shared &&
      recordCommandPid(lock, pid) &&
      lock.mode === 'pidfile'
    )
      lock.shareWithChild(true);
    keepPath(tenure, command, pid, run);
    const end = await command.ended;
    return tenure.lost ? EXIT.lost : ended(pid, end);
  } finally {
    // Whatever holds the path now (the first lock, or one taken again) is this process's alone.
    if (tenure.lock.held) tenure.lock.shareWithChild(false);
    stopForwarding();
  }
}

/**
 * --pid self is refused in mode 'pidfile': the fallback has no descriptor for the command to
 * inherit, so only a file that names the live command keeps a second copy out once pidguard is
 * killed. Recording the command instead would quietly undo what was asked for.
 */
function refusePidSelf(path: string, fellBack: boolean): number {
  process.stderr.write(pidSelfRefusal(path, fellBack));
  return EXIT.usage;
}

/**
 * Takes the lock, waiting as -w says. A signal that would end pidguard ends the wait too; as a
 * container's PID 1, which the kernel spares every signal it has no handler for, that takes
 * handlers of our own for as long as the wait lasts (else `docker stop` would wait out its
 * timeout, and the command would start after being told to stop). Elsewhere the signal's default
 * action does it.
 */
async function take(run: RunCommand): Promise<PidLock | number> {
  const options = { wait: run.waitMs, shared: run.shared };
  if (process.pid !== 1 || run.waitMs === 0) return acquire(run.pidfile, options);
  const aborted = new AbortController();
  let caught: NodeJS.Signals | null = null;
  const stopWaiting = (signal: NodeJS.Signals): void => {
    caught ??= signal;
    aborted.abort();
  };
  const signals = forwardedSignals();
  for (const signal of signals) process.on(signal, stopWaiting);
  try {
    return await acquire(run.pidfile, { ...options, signal: aborted.signal });
  } catch (error) {
    if (caught === null) throw error;
    return 128 + (constants.signals[caught] ?? 0);
  } finally {
    for (const signal of signals) process.off(signal, stopWaiting);
  }
}

export async function run(command: RunCommand): Promise<number> {
  if (command.recordSelf && environmentMode() === 'pidfile') return refusePidSelf(command.pidfile, false);
  let lock: PidLock;
  try {
    const taken = await take(command);
    if (typeof taken === 'number') return taken;
    lock = taken;
  } catch (error) {
    if (!(error instanceof LockedError)) throw error;
    const holder = error.pid === null ? null : readCommandLine(error.pid);
    process.stderr.write(conflictMessage(error.path, error.pid, holder));
    return command.conflictExitCode;
  }
  const tenure = new Tenure(lock, command.shared);
  try {
    // Mode 'auto' falls back where the file system refuses locks: known only now.
    if (command.recordSelf && lock.mode === 'pidfile') return refusePidSelf(lock.path, true);
    return await runHolding(tenure, command);
  } finally {
    tenure.end(); // removes the PID file, while still locked, if it is still ours
  }
}
