// The pidguard command's arguments: from argv to a checked Command, or a UsageError. Pure.
//
// node:util.parseArgs does the parsing: it handles short and long forms, `--opt=value`, grouped
// short flags and the `--` terminator, which is all these four subcommands need; an argument
// parser from npm would add a dependency and no behaviour.
import { constants } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface RunCommand {
  name: 'run';
  pidfile: string;
  /** The command and its arguments. */
  command: string[];
  /** How long to wait for the lock, in ms: 0 not at all, Infinity as long as it takes. */
  waitMs: number;
  conflictExitCode: number;
  /** Record the wrapper's own PID rather than the command's. */
  recordSelf: boolean;
  /** The command inherits the locked descriptor, so the lock lasts as long as it does. */
  inherit: boolean;
}

export interface StatusCommand {
  name: 'status';
  pidfile: string;
  json: boolean;
}

export interface StopCommand {
  name: 'stop';
  pidfile: string;
  signal: NodeJS.Signals;
  timeoutMs: number;
}

export interface WaitCommand {
  name: 'wait';
  pidfile: string;
  timeoutMs: number;
}

export type Command = { name: 'help' } | { name: 'version' } | RunCommand | StatusCommand | StopCommand | WaitCommand;

/** A mistake in the command line: reported in one line, with exit status 64 (EX_USAGE). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** How long `stop` waits for the holder to let go, unless -t says otherwise. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** Seconds as given on the command line (fractions allowed; `forever` where allowed) to ms. */
export function parseSeconds(value: string, option: string, allowForever: boolean): number {
  if (allowForever && (value === 'forever' || value === 'inf' || value === 'infinity')) return Infinity;
  const seconds = /^\d+(\.\d+)?$|^\.\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(seconds)) {
    const forever = allowForever ? " or 'forever'" : '';
    throw new UsageError(`${option} takes a number of seconds${forever}, got '${value}'`);
  }
  return Math.round(seconds * 1000);
}

/** TERM, SIGTERM, sigterm and 15 all name SIGTERM. */
export function parseSignal(value: string): NodeJS.Signals {
  const signals = constants.signals as Record<string, number>;
  if (/^\d+$/.test(value)) {
    const number = Number(value);
    const name = Object.keys(signals).find((candidate) => signals[candidate] === number);
    if (name !== undefined) return name as NodeJS.Signals;
  } else {
    const upper = value.toUpperCase();
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    if (name in signals) return name as NodeJS.Signals;
  }
  throw new UsageError(`-s, --signal: unknown signal '${value}'`);
}

function parseExitCode(value: string): number {
  const code = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(code >= 0 && code <= 255)) throw new UsageError(`-E, --conflict-exit-code takes a number from 0 to 255, got '${value}'`);
  return code;
}

type Options = NonNullable<ParseArgsConfig['options']>;

const HELP_OPTION: Options = { help: { type: 'boolean', short: 'h' } };

function parse(subcommand: string, args: readonly string[], options: Options) {
  try {
    return parseArgs({ args: [...args], options: { ...options, ...HELP_OPTION }, allowPositionals: true, strict: true });
  } catch (error) {
    const hint = subcommand === 'run' ? " (put '--' before the command)" : '';
    throw new UsageError(`${subcommand}: ${(error as Error).message}${hint}`);
  }
}

function onePidfile(subcommand: string, positionals: string[]): string {
  const [pidfile, ...extra] = positionals;
  if (pidfile === undefined || pidfile === '') throw new UsageError(`${subcommand}: missing the PID file`);
  if (extra.length > 0) throw new UsageError(`${subcommand}: unexpected argument '${extra[0]}'`);
  return pidfile;
}

function parseRun(args: readonly string[]): RunCommand | { name: 'help' } {
  // Everything after the first `--` is the command's, options included.
  const split = args.indexOf('--');
  const own = split === -1 ? args : args.slice(0, split);
  const after = split === -1 ? [] : args.slice(split + 1);
  const { values, positionals } = parse('run', own, {
    wait: { type: 'string', short: 'w' },
    'conflict-exit-code': { type: 'string', short: 'E' },
    pid: { type: 'string' },
    'no-inherit': { type: 'boolean' },
  });
  if (values['help'] === true) return { name: 'help' };
  const [pidfile, ...before] = positionals;
  if (pidfile === undefined || pidfile === '') throw new UsageError('run: missing the PID file');
  const command = [...before, ...after];
  if (command.length === 0 || command[0] === '') throw new UsageError('run: missing the command (pidguard run <pidfile> -- <command> [args...])');
  const pid = values['pid'] ?? 'command';
  if (pid !== 'self' && pid !== 'command') throw new UsageError(`run: --pid takes 'self' or 'command', got '${String(pid)}'`);
  const wait = values['wait'];
  const conflict = values['conflict-exit-code'];
  return {
    name: 'run',
    pidfile,
    command,
    waitMs: typeof wait === 'string' ? parseSeconds(wait, '-w, --wait', true) : 0,
    conflictExitCode: typeof conflict === 'string' ? parseExitCode(conflict) : 1,
    recordSelf: pid === 'self',
    inherit: values['no-inherit'] !== true,
  };
}

function parseStatus(args: readonly string[]): StatusCommand | { name: 'help' } {
  const { values, positionals } = parse('status', args, { json: { type: 'boolean' } });
  if (values['help'] === true) return { name: 'help' };
  return { name: 'status', pidfile: onePidfile('status', positionals), json: values['json'] === true };
}

function parseStop(args: readonly string[]): StopCommand | { name: 'help' } {
  const { values, positionals } = parse('stop', args, {
    signal: { type: 'string', short: 's' },
    timeout: { type: 'string', short: 't' },
  });
  if (values['help'] === true) return { name: 'help' };
  const signal = values['signal'];
  const timeout = values['timeout'];
  return {
    name: 'stop',
    pidfile: onePidfile('stop', positionals),
    signal: typeof signal === 'string' ? parseSignal(signal) : 'SIGTERM',
    timeoutMs: typeof timeout === 'string' ? parseSeconds(timeout, '-t, --timeout', true) : DEFAULT_STOP_TIMEOUT_MS,
  };
}

function parseWait(args: readonly string[]): WaitCommand | { name: 'help' } {
  const { values, positionals } = parse('wait', args, { timeout: { type: 'string', short: 't' } });
  if (values['help'] === true) return { name: 'help' };
  const timeout = values['timeout'];
  return {
    name: 'wait',
    pidfile: onePidfile('wait', positionals),
    timeoutMs: typeof timeout === 'string' ? parseSeconds(timeout, '-t, --timeout', true) : Infinity,
  };
}

/** argv without the node and script paths. */
export function parseCommandLine(argv: readonly string[]): Command {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case undefined:
      throw new UsageError('missing a command: run, status, stop or wait');
    case '-h':
    case '--help':
    case 'help':
      return { name: 'help' };
    case '-V':
    case '--version':
      return { name: 'version' };
    case 'run':
      return parseRun(rest);
    case 'status':
      return parseStatus(rest);
    case 'stop':
      return parseStop(rest);
    case 'wait':
      return parseWait(rest);
    default:
      throw new UsageError(`unknown command '${subcommand}': expected run, status, stop or wait`);
  }
}
