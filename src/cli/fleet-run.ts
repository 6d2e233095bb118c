// `pidguard run postgres:<name> -- <command>`: take the lock across hosts, wait for the command of
// an earlier holder to be gone, run the command with the command session's socket, and stop the
// command and everything it started when the lock is lost.
import { LockedError } from '../errors';
import { acquire } from '../postgres/acquire';
import { CommandSession } from '../postgres/command-session';
import type { FleetLock } from '../postgres/lock';
import { POSIX_SHELL, reportCannotRun, startCommand, type Command } from './command';
import { CommandFamily } from './fleet-family';
import { KILL_MARGIN_MS, type FleetRunCommand } from './fleet-args';
import {
  EXIT_LOST,
  earlierCommandMessage,
  fleetConflictMessage,
  lostBeforeStartMessage,
  lostMessage,
  survivorsMessage,
} from './fleet-messages';
import { commandExitStatus, EXIT } from './messages';
import { forwardSignals } from './forwarding';

function start(lock: FleetLock, session: CommandSession, run: FleetRunCommand): Command {
  return startCommand(run.command, {
    env: { ...process.env, PIDGUARD_LOCK_NAME: lock.name, PIDGUARD_LOCK_TOKEN: lock.token.toString() },
    // The command inherits the command session (as fd 3): the key it holds lasts as long as the
    // command and whatever it starts, however this process ends.
    lockFd: session.fd,
    reapOthers: process.pid === 1 && process.platform === 'linux',
    shell: run.shell,
  });
}

/** Runs the command while `lock` is held; stops its family when the lock is lost. Resolves with the exit status. */
async function runHolding(lock: FleetLock, session: CommandSession, run: FleetRunCommand): Promise<number> {
  let command: Command | undefined;
  const stopForwarding = forwardSignals(() => command); // from before the command starts (forwarding.ts)
  let lost: Error | null = null;
  lock.once('lost', (error: Error) => {
    lost = error;
  });
  try {
    command = start(lock, session, run);
    const name = run.shell ? POSIX_SHELL : (run.command[0] ?? '');
    // The addon holds the command before its exec: its PID goes into the session's name first,
    // so that a refusal can name it even after this process is gone.
    if (command.pid !== null) await session.record(command.pid).catch(() => {});
    let pid: number;
    try {
      pid = await command.run();
    } catch (error) {
      return reportCannotRun(name, error as NodeJS.ErrnoException);
    }
    if (command.pid === null) void session.record(pid).catch(() => {});
    const family = new CommandFamily(command, pid, session.fd);
    let stopped: Promise<number[]> | null = null;
    const onLost = (error: Error): void => {
      process.stderr.write(lostMessage(error.message, run.graceMs));
      stopped = family.stop(run.graceMs, KILL_MARGIN_MS);
    };
    if (lost !== null) onLost(lost);
    else lock.once('lost', onLost);
    const end = await command.ended;
    lock.off('lost', onLost);
    if (stopped === null) {
      const status = end.waitError === undefined ? commandExitStatus(end.code, end.signal) : null;
      if (status !== null) return status;
      process.stderr.write(
        `pidguard: the command (PID ${pid}) has ended, but how could not be told: ${end.waitError?.message ?? 'unknown'}\n`,
      );
      return EXIT.failure;
    }
    const survivors = await (stopped as Promise<number[]>);
    if (survivors.length > 0) process.stderr.write(survivorsMessage(survivors));
    return EXIT_LOST;
  } finally {
    stopForwarding();
  }
}

/** Waits for the command key, then runs; resolves with the exit status. */
async function runUnder(
  lock: FleetLock,
  session: CommandSession,
  run: FleetRunCommand,
  waitLeftMs: number,
): Promise<number> {
  // Lost while waiting for the earlier command: stop waiting.
  const abandon = new AbortController();
  const onLost = (error: Error): void => abandon.abort(error);
  lock.once('lost', onLost);
  try {
    const taken = await session.take(waitLeftMs, abandon.signal);
    if (taken !== true) {
      process.stderr.write(earlierCommandMessage(lock.target, taken));
      return run.conflictExitCode;
    }
  } catch (error) {
    if (!abandon.signal.aborted) throw error;
    process.stderr.write(lostBeforeStartMessage((error as Error).message));
    return EXIT_LOST;
  } finally {
    lock.off('lost', onLost);
  }
  // The key was granted while the lock was held: one answer from the lock's session after the
  // grant, so that `pidguard stop`, which ends that session and then waits for the key, finds the
  // command running or finds that it never will.
  if (!(await lock.confirm())) {
    process.stderr.write(lostBeforeStartMessage('the lock was lost as the earlier command ended'));
    return EXIT_LOST;
  }
  return runHolding(lock, session, run);
}

export async function fleetRun(run: FleetRunCommand): Promise<number> {
  const startedAt = performance.now();
  const options = { graceMs: run.graceMs + KILL_MARGIN_MS, ...(run.proxy === undefined ? {} : { proxy: run.proxy }) };
  let lock: FleetLock;
  try {
    lock = await acquire(run.lock, { ...options, wait: run.waitMs });
  } catch (error) {
    if (!(error instanceof LockedError)) throw error;
    process.stderr.write(fleetConflictMessage(error.path, error.pid, error.host));
    return run.conflictExitCode;
  }
  let session: CommandSession | null = null;
  try {
    session = await CommandSession.open(run.lock, lock.backend, options);
    const waitLeftMs = Math.max(0, run.waitMs - (performance.now() - startedAt));
    return await runUnder(lock, session, run, waitLeftMs);
  } finally {
    // This process's copy of the command session goes first: with no command left holding it,
    // the key is free by the time the next holder has the lock.
    session?.leave();
    await lock.release();
  }
}
