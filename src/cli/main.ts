// The pidguard command: parse, dispatch, and turn every failure into one line and an exit status.
import fs from 'node:fs';
import path from 'node:path';
import { parseCommandLine, UsageError, type Command } from './args';
import { isFleetCommandLine, runFleet } from './fleet';
import { EXIT, HELP, usageMessage } from './messages';
import { run } from './run';
import { status } from './status';
import { stop } from './stop';
import { wait } from './wait';

function version(): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

function dispatch(command: Command): Promise<number> | number {
  switch (command.name) {
    case 'help':
      process.stdout.write(HELP);
      return 0;
    case 'version':
      process.stdout.write(`pidguard ${version()}\n`);
      return 0;
    case 'run':
      return run(command);
    case 'status':
      return status(command);
    case 'stop':
      return stop(command);
    case 'wait':
      return wait(command);
  }
}

/**
 * Node's warnings (pidguard's own PIDGUARD_FALLBACK among them: a lock weaker than the kernel's)
 * as one line each, in the command's voice, instead of Node's "(node:1234) [CODE] Warning: ..."
 * and its hint about --trace-warnings. NODE_OPTIONS=--no-warnings still silences them.
 */
function printWarningsPlainly(): void {
  if (process.listenerCount('warning') === 0) return; // --no-warnings: Node prints none either
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error) => {
    process.stderr.write(`pidguard: warning: ${warning.message.replace(/^pidguard: /, '')}\n`);
  });
}

/** Runs the command line `argv` (without node and the script) and resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  printWarningsPlainly();
  try {
    // A lock across hosts (postgres:<name>) has its own parsing and commands: src/cli/fleet.ts.
    if (isFleetCommandLine(argv)) return await runFleet(argv);
    return await dispatch(parseCommandLine(argv));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(usageMessage(error.message));
      return EXIT.usage;
    }
    // pidguard's errors carry their code and path in the message: "EACCES: permission denied,
    // open '/run/app.pid'". One line, no stack: these are the operator's problems, not bugs.
    process.stderr.write(`pidguard: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failure;
  }
}
