// The pidguard command's arguments: from argv to a checked Command, or a UsageError. Pure.
//
// `run` reads its options as flock(1) does (getopt with a leading '+'): they end at the PID file,
// and everything after it belongs to the command, options included; `--` stays accepted, before
// the PID file and right after it. `status`, `stop` and `wait` take their options anywhere, as
// GNU tools do. getopt.ts says why node:util.parseArgs does not fit.
//
// The PID file argument is passed on as written, never interpreted here: a lock that is not a
// file (a `<scheme>:<name>` target) can be dispatched on it in main.ts without a change here.
import { constants } from 'node:os';
import { getopt, GetoptError, given, lastValue, type OptionSpec, type Parsed } from './getopt';
import { parseSchedule, ScheduleError, simpleSchedule, type ScheduleStep } from './schedule';

export interface RunCommand {
  name: 'run';
  pidfile: string;
  /**
   * The command and its arguments; with `shell`, one string for the shell to run (`-c`, as
   * flock(1)'s: /bin/sh -c on POSIX, cmd.exe /d /s /c on Windows).
   */
  command: string[];
  shell: boolean;
  /** How long to wait for the lock, in ms: 0 not at all, Infinity as long as it takes. */
  waitMs: number;
  conflictExitCode: number;
  /** Record the wrapper's own PID rather than the command's. */
  recordSelf: boolean;
  /** The command inherits the locked descriptor, so the lock lasts as long as it does. */
  inherit: boolean;
  /** A shared lock (flock -s): any number of shared holders, or one exclusive; no PID is written. */
  shared: boolean;
  /** When the PID file is lost to another holder: how long the command has after SIGTERM before SIGKILL. */
  killAfterMs: number;
}

export interface StatusCommand {
  name: 'status';
  pidfile: string;
  json: boolean;
  /** LSB init-script statuses (0, 1, 3, 4), as start-stop-daemon --status gives them. */
  lsb: boolean;
}

export interface StopCommand {
  name: 'stop';
  pidfile: string;
  /** What to send and how long to wait after each, as start-stop-daemon's --retry schedule. */
  schedule: ScheduleStep[];
  /** Exit 0 rather than 1 when nothing holds the lock (start-stop-daemon's --oknodo). */
  okNoDo: boolean;
}

export interface WaitCommand {
  name: 'wait';
  pidfile: string;
  timeoutMs: number;
  /** Wait until the lock is held and the file names a live PID, rather than until it is free. */
  held: boolean;
}

export type Command = { name: 'help' } | { name: 'version' } | RunCommand | StatusCommand | StopCommand | WaitCommand;

/** A mistake in the command line: reported in one line, with exit status 64 (EX_USAGE). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** How long `stop` waits for the holder to let go, unless -t or --retry says otherwise. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** How long a command whose PID file was taken by another holder has between SIGTERM and SIGKILL, as `consul lock`'s. */
export const DEFAULT_KILL_AFTER_MS = 5_000;

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
export function parseSignal(value: string, option = '-s, --signal'): NodeJS.Signals {
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
  throw new UsageError(`${option}: unknown signal '${value}'`);
}

export function parseExitCode(value: string): number {
  const code = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(code >= 0 && code <= 255))
    throw new UsageError(`-E, --conflict-exit-code takes a number from 0 to 255, got '${value}'`);
  return code;
}

const HELP: OptionSpec = { key: 'help', short: ['h'], long: ['help'], value: false };

/** flock(1)'s options, with its spellings, and pidguard's own. */
const RUN_OPTIONS: readonly OptionSpec[] = [
  { key: 'wait', short: ['w'], long: ['wait', 'timeout'], value: true },
  { key: 'nonblock', short: ['n'], long: ['nonblock', 'nb'], value: false },
  { key: 'shared', short: ['s'], long: ['shared'], value: false },
  { key: 'exclusive', short: ['x', 'e'], long: ['exclusive'], value: false },
  { key: 'conflict-exit-code', short: ['E'], long: ['conflict-exit-code'], value: true },
  { key: 'no-inherit', short: ['o'], long: ['no-inherit', 'close'], value: false },
  { key: 'pid', long: ['pid'], value: true },
  { key: 'kill-after', long: ['kill-after'], value: true },
  HELP,
];

export const STATUS_OPTIONS: readonly OptionSpec[] = [
  { key: 'json', long: ['json'], value: false },
  { key: 'lsb', long: ['lsb'], value: false },
  HELP,
];

/** start-stop-daemon's spellings for --retry (-R) and --oknodo (-o). */
export const STOP_OPTIONS: readonly OptionSpec[] = [
  { key: 'signal', short: ['s'], long: ['signal'], value: true },
  { key: 'timeout', short: ['t'], long: ['timeout'], value: true },
  { key: 'retry', short: ['R'], long: ['retry'], value: true },
  { key: 'oknodo', short: ['o'], long: ['oknodo'], value: false },
  HELP,
];

export const WAIT_OPTIONS: readonly OptionSpec[] = [
  { key: 'timeout', short: ['t'], long: ['timeout'], value: true },
  { key: 'held', long: ['held'], value: false },
  HELP,
];

function parse(
  subcommand: string,
  args: readonly string[],
  specs: readonly OptionSpec[],
  stopAtOperand: boolean,
): Parsed {
  try {
    return getopt(args, specs, stopAtOperand);
  } catch (error) {
    if (error instanceof GetoptError) throw new UsageError(`${subcommand}: ${error.message}`);
    throw error;
  }
}

function onePidfile(subcommand: string, operands: readonly string[]): string {
  const [pidfile, ...extra] = operands;
  if (pidfile === undefined || pidfile === '') throw new UsageError(`${subcommand}: missing the PID file`);
  if (extra.length > 0) throw new UsageError(`${subcommand}: unexpected argument '${extra[0]}'`);
  return pidfile;
}

const RUN_SYNOPSIS = 'pidguard run [options] <pidfile> [--] <command> [args...], or -c <string>';

/**
 * What follows the lock (a PID file, or postgres:<name>): the command and its arguments, as
 * given, or `-c <string>`. `synopsis` is run's, for the message when the command is missing.
 */
export function runCommandOf(after: readonly string[], synopsis: string): { command: string[]; shell: boolean } {
  const [first, ...rest] = after;
  if (first === '-c' || first === '--command') {
    // As flock(1): exactly one string, for the shell.
    if (rest.length !== 1)
      throw new UsageError(`run: ${first} takes exactly one string, the command for the shell (${rest.length} given)`);
    if (rest[0] === '') throw new UsageError(`run: ${first} was given an empty command`);
    return { command: [rest[0] ?? ''], shell: true };
  }
  // `--` right after the lock is pidguard's own way, kept: flock(1) would run a command named '--'.
  const command = first === '--' ? rest : [...after];
  if (command.length === 0 || command[0] === '') throw new UsageError(`run: missing the command (${synopsis})`);
  return { command, shell: false };
}

function parseRun(args: readonly string[]): RunCommand | { name: 'help' } {
  const parsed = parse('run', args, RUN_OPTIONS, true);
  if (given(parsed, 'help')) return { name: 'help' };
  const [pidfile, ...after] = parsed.operands;
  if (pidfile === undefined || pidfile === '') throw new UsageError('run: missing the PID file');
  const { command, shell } = runCommandOf(after, RUN_SYNOPSIS);
  const pid = lastValue(parsed, 'pid')?.value ?? 'command';
  if (pid !== 'self' && pid !== 'command') throw new UsageError(`run: --pid takes 'self' or 'command', got '${pid}'`);
  const wait = lastValue(parsed, 'wait')?.value;
  const conflict = lastValue(parsed, 'conflict-exit-code')?.value;
  const killAfter = lastValue(parsed, 'kill-after')?.value;
  // The last of -s and -x counts, as flock(1)'s; -n wins over -w whatever their order, as there.
  const lockKind = parsed.options.filter((option) => option.key === 'shared' || option.key === 'exclusive').at(-1)?.key;
  const shared = lockKind === 'shared';
  if (shared && pid === 'self')
    throw new UsageError('run: -s, --shared records no PID, so --pid self cannot be used with it');
  const waitMs = typeof wait === 'string' ? parseSeconds(wait, '-w, --wait', true) : 0;
  return {
    name: 'run',
    pidfile,
    command,
    shell,
    waitMs: given(parsed, 'nonblock') ? 0 : waitMs,
    conflictExitCode: typeof conflict === 'string' ? parseExitCode(conflict) : 1,
    recordSelf: pid === 'self',
    inherit: !given(parsed, 'no-inherit'),
    shared,
    killAfterMs: typeof killAfter === 'string' ? parseSeconds(killAfter, '--kill-after', false) : DEFAULT_KILL_AFTER_MS,
  };
}

function parseStatus(args: readonly string[]): StatusCommand | { name: 'help' } {
  const parsed = parse('status', args, STATUS_OPTIONS, false);
  if (given(parsed, 'help')) return { name: 'help' };
  return {
    name: 'status',
    pidfile: onePidfile('status', parsed.operands),
    json: given(parsed, 'json'),
    lsb: given(parsed, 'lsb'),
  };
}

function stopSchedule(parsed: Parsed): ScheduleStep[] {
  const signalGiven = lastValue(parsed, 'signal')?.value;
  const timeout = lastValue(parsed, 'timeout')?.value;
  const retry = lastValue(parsed, 'retry')?.value;
  const signal = typeof signalGiven === 'string' ? parseSignal(signalGiven) : 'SIGTERM';
  if (typeof retry !== 'string') {
    return simpleSchedule(
      signal,
      typeof timeout === 'string' ? parseSeconds(timeout, '-t, --timeout', true) : DEFAULT_STOP_TIMEOUT_MS,
    );
  }
  if (typeof timeout === 'string')
    throw new UsageError(
      'stop: -t, --timeout and -R, --retry cannot be used together: the schedule says how long to wait',
    );
  const single = /^\d+(\.\d+)?$|^\.\d+$/.test(retry);
  if (!single && typeof signalGiven === 'string')
    throw new UsageError('stop: -s, --signal cannot be used with a --retry schedule, which names its own signals');
  try {
    return parseSchedule(retry, signal, (name) => parseSignal(name, '-R, --retry'));
  } catch (error) {
    if (error instanceof ScheduleError) throw new UsageError(`stop: -R, --retry: ${error.message}`);
    throw error;
  }
}

function parseStop(args: readonly string[]): StopCommand | { name: 'help' } {
  const parsed = parse('stop', args, STOP_OPTIONS, false);
  if (given(parsed, 'help')) return { name: 'help' };
  const pidfile = onePidfile('stop', parsed.operands);
  return { name: 'stop', pidfile, schedule: stopSchedule(parsed), okNoDo: given(parsed, 'oknodo') };
}

function parseWait(args: readonly string[]): WaitCommand | { name: 'help' } {
  const parsed = parse('wait', args, WAIT_OPTIONS, false);
  if (given(parsed, 'help')) return { name: 'help' };
  const timeout = lastValue(parsed, 'timeout')?.value;
  return {
    name: 'wait',
    pidfile: onePidfile('wait', parsed.operands),
    timeoutMs: typeof timeout === 'string' ? parseSeconds(timeout, '-t, --timeout', true) : Infinity,
    held: given(parsed, 'held'),
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
