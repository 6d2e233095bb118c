// `pidguard run|status|stop|wait postgres:<name>`: the command for a lock across hosts. main.ts
// hands it every command line whose target starts with postgres: (isFleetCommandLine).
import { lookRunning, stopHolder, waitUntilFree } from '../postgres/admin';
import { inspect } from '../postgres/inspect';
import { targetOf } from '../postgres/names';
import { EXIT } from './messages';
import { parseFleetCommandLine, type FleetCommand } from './fleet-args';
import { FLEET_HELP, fleetStatusJson, fleetStatusLine, orphanLine, stillRunningMessage } from './fleet-messages';
import { fleetRun } from './fleet-run';

export { isFleetCommandLine } from './fleet-args';

async function fleetStop(name: string, timeoutMs: number, okNoDo: boolean): Promise<number> {
  const target = targetOf(name);
  const found = await inspect(name);
  if (!found.locked || found.backend === null) {
    const { commands } = await lookRunning(name);
    process.stderr.write(
      `pidguard: nothing holds ${target}\n${commands.map((command) => orphanLine(target, command)).join('')}`,
    );
    return okNoDo && commands.length === 0 ? 0 : EXIT.no;
  }
  const { stopped, commands } = await stopHolder(name, found.backend, timeoutMs);
  if (stopped) return 0;
  process.stderr.write(stillRunningMessage(target, timeoutMs, commands));
  return EXIT.no;
}

async function fleetStatus(name: string, json: boolean): Promise<number> {
  const target = targetOf(name);
  const found = await inspect(name);
  // Without a holder, a command may still run under the lock: stopping after a loss, or left
  // behind by a run that was killed.
  const commands = found.locked ? [] : (await lookRunning(name)).commands;
  if (json) process.stdout.write(fleetStatusJson(target, found, commands));
  else if (found.locked || commands.length > 0) process.stdout.write(fleetStatusLine(target, found, commands));
  else process.stderr.write(fleetStatusLine(target, found, commands));
  return found.locked || commands.length > 0 ? 0 : EXIT.no;
}

function dispatch(command: FleetCommand): Promise<number> | number {
  switch (command.name) {
    case 'help':
      process.stdout.write(FLEET_HELP);
      return 0;
    case 'run':
      return fleetRun(command);
    case 'status':
      return fleetStatus(command.lock, command.json);
    case 'stop':
      return fleetStop(command.lock, command.timeoutMs, command.okNoDo);
    case 'wait':
      return waitUntilFree(command.lock, command.timeoutMs).then((free) => {
        if (!free)
          process.stderr.write(
            `pidguard: ${targetOf(command.lock)} is still held after ${command.timeoutMs / 1000} s\n`,
          );
        return free ? 0 : EXIT.no;
      });
  }
}

/** Runs a command line that isFleetCommandLine() accepted; resolves with the exit status. */
export function runFleet(argv: readonly string[]): Promise<number> | number {
  return dispatch(parseFleetCommandLine(argv));
}
