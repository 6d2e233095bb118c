// The pidguard command's arguments for a lock across hosts (a target postgres:<name>): from argv
// to a checked FleetCommand, or a UsageError. Pure.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TARGET_PREFIX } from '../postgres/names';
import { parseSeconds, UsageError } from './args';

export interface FleetRunCommand {
  name: 'run';
  lock: string;
  command: string[];
  /** `command` is one string for /bin/sh -c. */
  shell: boolean;
  waitMs: number;
  conflictExitCode: number;
  /** Between SIGTERM and SIGKILL when the lock is lost. */
  graceMs: number;
}
export interface FleetStatusCommand { name: 'status'; lock: string; json: boolean }
export interface FleetStopCommand { name: 'stop'; lock: string; timeoutMs: number }
export interface FleetWaitCommand { name: 'wait'; lock: string; timeoutMs: number }
export type FleetCommand = { name: 'help' } | FleetRunCommand | FleetStatusCommand | FleetStopCommand | FleetWaitCommand;

/** How long `run` gives its command between SIGTERM and SIGKILL once the lock is lost. */
export const DEFAULT_GRACE_MS = 1000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const SUBCOMMANDS = ['run', 'status', 'stop', 'wait'];

/** Whether this command line names a lock across hosts (postgres:<name>) rather than a PID file. */
export function isFleetCommandLine(argv: readonly string[]): boolean {
  const [subcommand, ...rest] = argv;
  if (subcommand === undefined || !SUBCOMMANDS.includes(subcommand)) return false;
  const split = rest.indexOf('--');
  return (split === -1 ? rest : rest.slice(0, split)).some((arg) => arg.startsWith(TARGET_PREFIX));
}

type Options = NonNullable<ParseArgsConfig['options']>;

const HELP_OPTION: Options = { help: { type: 'boolean', short: 'h' } };

function parse(subcommand: string, args: readonly string[], options: Options) {
  try {
    return parseArgs({ args: [...args], options: { ...options, ...HELP_OPTION }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${subcommand} postgres:<name>: ${(error as Error).message}`);
  }
}

function lockName(subcommand: string, positionals: string[], extraAllowed: boolean): string {
  const [target, ...extra] = positionals;
  if (target === undefined || !target.startsWith(TARGET_PREFIX)) throw new UsageError(`${subcommand}: the lock comes first: postgres:<name>`);
  const name = target.slice(TARGET_PREFIX.length);
  if (name === '') throw new UsageError(`${subcommand}: missing the lock's name after postgres:`);
  if (!extraAllowed && extra.length > 0) throw new UsageError(`${subcommand}: unexpected argument '${extra[0]}'`);
  return name;
}

function exitCode(value: string): number {
  const code = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(code >= 0 && code <= 255)) throw new UsageError(`-E, --conflict-exit-code takes a number from 0 to 255, got '${value}'`);
  return code;
}

/** argv without node and the script, for a command line isFleetCommandLine() accepted. */
export function parseFleetCommandLine(argv: readonly string[]): FleetCommand {
  const [subcommand = '', ...rest] = argv;
  if (subcommand === 'run') {
    const split = rest.indexOf('--');
    const own = split === -1 ? rest : rest.slice(0, split);
    const { values, positionals } = parse('run', own, {
      wait: { type: 'string', short: 'w' },
      'conflict-exit-code': { type: 'string', short: 'E' },
      grace: { type: 'string' },
    });
    if (values['help'] === true) return { name: 'help' };
    const lock = lockName('run', positionals, true);
    const command = [...positionals.slice(1), ...(split === -1 ? [] : rest.slice(split + 1))];
    if (command.length === 0 || command[0] === '') throw new UsageError('run: missing the command (pidguard run postgres:<name> -- <command> [args...])');
    const wait = values['wait'];
    const grace = values['grace'];
    const conflict = values['conflict-exit-code'];
    return {
      name: 'run',
      lock,
      command,
      shell: false,
      waitMs: typeof wait === 'string' ? parseSeconds(wait, '-w, --wait', true) : 0,
      conflictExitCode: typeof conflict === 'string' ? exitCode(conflict) : 1,
      graceMs: typeof grace === 'string' ? parseSeconds(grace, '--grace', false) : DEFAULT_GRACE_MS,
    };
  }
  if (subcommand === 'status') {
    const { values, positionals } = parse('status', rest, { json: { type: 'boolean' } });
    if (values['help'] === true) return { name: 'help' };
    return { name: 'status', lock: lockName('status', positionals, false), json: values['json'] === true };
  }
  const { values, positionals } = parse(subcommand, rest, { timeout: { type: 'string', short: 't' } });
  if (values['help'] === true) return { name: 'help' };
  const timeout = values['timeout'];
  const lock = lockName(subcommand, positionals, false);
  if (subcommand === 'stop') {
    return { name: 'stop', lock, timeoutMs: typeof timeout === 'string' ? parseSeconds(timeout, '-t, --timeout', true) : DEFAULT_STOP_TIMEOUT_MS };
  }
  return { name: 'wait', lock, timeoutMs: typeof timeout === 'string' ? parseSeconds(timeout, '-t, --timeout', true) : Infinity };
}
