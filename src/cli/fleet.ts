// `pidguard run|status|stop|wait postgres:<name>`: the command for a lock across hosts. main.ts
// hands it every command line whose target starts with postgres: (isFleetCommandLine).
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { LockedError } from '../errors';
import { terminateHolder, waitUntilFree } from '../postgres/admin';
import { acquire } from '../postgres/acquire';
import { inspect } from '../postgres/inspect';
import type { FleetLock } from '../postgres/lock';
import { targetOf } from '../postgres/names';
import { EXIT } from './messages';
import { parseFleetCommandLine, type FleetCommand, type FleetRunCommand } from './fleet-args';
import { EXIT_LOST, FLEET_HELP, fleetConflictMessage, fleetStatusJson, fleetStatusLine } from './fleet-messages';

export { isFleetCommandLine } from './fleet-args';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * The time given to SIGKILL to end the command, beyond --grace, in the lock's own grace: the
 * server's keepalives are set so that nobody else can hold the lock until the command is dead.
 */
const KILL_MARGIN_MS = 1000;

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
}

function start(lock: FleetLock, command: string[]): ChildProcess {
  const [file, ...args] = command as [string, ...string[]];
  return spawn(file, args, { stdio: 'inherit', env: { ...process.env, PIDGUARD_LOCK_NAME: lock.name, PIDGUARD_LOCK_TOKEN: lock.token.toString() } });
}

/** Runs the command while `lock` is held; stops it when the lock is lost. Resolves with the exit status. */
async function runHolding(lock: FleetLock, run: FleetRunCommand): Promise<number> {
  let child: ChildProcess | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    child?.kill(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  let lost = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = (error: Error): void => {
    lost = true;
    process.stderr.write(`pidguard: ${error.message}\npidguard: stopping the command: SIGTERM, then SIGKILL after ${run.graceMs / 1000} s\n`);
    child?.kill('SIGTERM');
    killTimer = setTimeout(() => child?.kill('SIGKILL'), run.graceMs);
  };
  lock.on('lost', onLost);
  try {
    const started = start(lock, run.command);
    child = started;
    const status = await new Promise<number>((resolve) => {
      started.on('error', (error: NodeJS.ErrnoException) => {
        if (started.pid !== undefined) return;
        const notFound = error.code === 'ENOENT';
        process.stderr.write(`pidguard: cannot run '${run.command[0] ?? ''}': ${notFound ? 'command not found' : `${error.code ?? 'error'}: ${error.message}`}\n`);
        resolve(notFound ? EXIT.notFound : EXIT.cannotExecute);
      });
      started.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
    });
    return lost ? EXIT_LOST : status;
  } finally {
    clearTimeout(killTimer);
    lock.off('lost', onLost);
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}

async function fleetRun(run: FleetRunCommand): Promise<number> {
  let lock: FleetLock;
  try {
    lock = await acquire(run.lock, { wait: run.waitMs, graceMs: run.graceMs + KILL_MARGIN_MS });
  } catch (error) {
    if (!(error instanceof LockedError)) throw error;
    process.stderr.write(fleetConflictMessage(error.path, error.pid, error.host));
    return run.conflictExitCode;
  }
  try {
    return await runHolding(lock, run);
  } finally {
    await lock.release();
  }
}

async function fleetStop(name: string, timeoutMs: number): Promise<number> {
  const target = targetOf(name);
  const found = await inspect(name);
  if (!found.locked || found.backend === null) {
    process.stderr.write(`pidguard: nothing holds ${target}\n`);
    return EXIT.no;
  }
  await terminateHolder(name, found.backend);
  if (await waitUntilFree(name, timeoutMs)) return 0;
  process.stderr.write(`pidguard: ${target} is still held ${timeoutMs / 1000} s after its holder's session was ended\n`);
  return EXIT.no;
}

function dispatch(command: FleetCommand): Promise<number> | number {
  switch (command.name) {
    case 'help':
      process.stdout.write(FLEET_HELP);
      return 0;
    case 'run':
      return fleetRun(command);
    case 'status':
      return inspect(command.lock).then((found) => {
        const target = targetOf(command.lock);
        if (command.json) process.stdout.write(fleetStatusJson(target, found));
        else (found.locked ? process.stdout : process.stderr).write(fleetStatusLine(target, found));
        return found.locked ? 0 : EXIT.no;
      });
    case 'stop':
      return fleetStop(command.lock, command.timeoutMs);
    case 'wait':
      return waitUntilFree(command.lock, command.timeoutMs).then((free) => {
        if (!free) process.stderr.write(`pidguard: ${targetOf(command.lock)} is still held after ${command.timeoutMs / 1000} s\n`);
        return free ? 0 : EXIT.no;
      });
  }
}

/** Runs a command line that isFleetCommandLine() accepted; resolves with the exit status. */
export function runFleet(argv: readonly string[]): Promise<number> | number {
  return dispatch(parseFleetCommandLine(argv));
}
