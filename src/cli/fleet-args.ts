// The pidguard command's arguments for a lock across hosts (a target postgres:<name>): whether a
// command line names one, and from argv to a checked FleetCommand, or a UsageError. Pure.
//
// Options are read as args.ts reads the file lock's, with getopt.ts: `run`'s end at the lock
// (flock(1)'s rule: everything after it is the command's, `--` accepted before the lock and
// right after it), the others' may come anywhere. Whether a command line is a fleet one is told
// by the lock argument's own position under those rules, never by an argument that merely starts
// with postgres: (a command's postgres:// URL, say).
import { lostWithinMs, DEFAULT_HEALTH_CHECK, MAX_SERVER_MS } from '../postgres/bounds';
import { checkName, TARGET_PREFIX } from '../postgres/names';
// status, stop and wait take the file lock's options: the same words for either kind of lock.
import {
  parseExitCode,
  parseSeconds,
  runCommandOf,
  STATUS_OPTIONS,
  STOP_OPTIONS,
  UsageError,
  WAIT_OPTIONS,
} from './args';
import { getopt, GetoptError, given, lastValue, type OptionSpec, type Parsed } from './getopt';

export type ProxyPolicy = 'warn' | 'refuse' | 'allow';

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
  /** What to do about a TCP proxy between this host and the server (options.proxy). */
  proxy: ProxyPolicy | undefined;
}
export interface FleetStatusCommand {
  name: 'status';
  lock: string;
  json: boolean;
}
export interface FleetStopCommand {
  name: 'stop';
  lock: string;
  timeoutMs: number;
  okNoDo: boolean;
}
export interface FleetWaitCommand {
  name: 'wait';
  lock: string;
  timeoutMs: number;
}
export type FleetCommand =
  { name: 'help' } | FleetRunCommand | FleetStatusCommand | FleetStopCommand | FleetWaitCommand;

/** How long `run` gives its command between SIGTERM and SIGKILL once the lock is lost. */
export const DEFAULT_GRACE_MS = 1000;
/**
 * The time given to SIGKILL to end the command's processes, beyond --grace, in the lock's own
 * grace: the server's keepalives are set so that nobody else can hold the lock until then.
 */
export const KILL_MARGIN_MS = 1000;
/** The longest --grace: the server's keepalives, set from it, must fit tcp_user_timeout (whole seconds of ms in an int). */
export const MAX_GRACE_MS =
  Math.floor(MAX_SERVER_MS / 1000) * 1000 - lostWithinMs(DEFAULT_HEALTH_CHECK) - KILL_MARGIN_MS;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

const HELP: OptionSpec = { key: 'help', short: ['h'], long: ['help'], value: false };

/**
 * Every option either kind of `run` takes, so that the lock's position is found alike for both;
 * those of the file lock alone are refused for postgres: targets, saying so.
 */
const RUN_OPTIONS: readonly OptionSpec[] = [
  { key: 'wait', short: ['w'], long: ['wait', 'timeout'], value: true },
  { key: 'nonblock', short: ['n'], long: ['nonblock', 'nb'], value: false },
  { key: 'conflict-exit-code', short: ['E'], long: ['conflict-exit-code'], value: true },
  { key: 'grace', long: ['grace', 'kill-after'], value: true },
  { key: 'proxy', long: ['proxy'], value: true },
  { key: 'shared', short: ['s'], long: ['shared'], value: false },
  { key: 'exclusive', short: ['x', 'e'], long: ['exclusive'], value: false },
  { key: 'no-inherit', short: ['o'], long: ['no-inherit', 'close'], value: false },
  { key: 'pid', long: ['pid'], value: true },
  HELP,
];

const SPECS: Readonly<Record<string, readonly OptionSpec[]>> = {
  run: RUN_OPTIONS,
  status: STATUS_OPTIONS,
  stop: STOP_OPTIONS,
  wait: WAIT_OPTIONS,
};

/** The file lock's options, which mean nothing for a session on a server: each refused, with why. */
const FILE_ONLY: Readonly<Record<string, string>> = {
  shared: 'a lock across hosts is exclusive',
  exclusive: 'a lock across hosts is exclusive',
  'no-inherit': 'the command always inherits the command session',
  pid: 'no PID file is written',
  lsb: 'LSB statuses are for init scripts on one host',
  signal: "stop ends the holder's session, and its run signals the command",
  retry: "stop ends the holder's session, and its run signals the command",
  held: 'not for a lock across hosts',
};

function parse(subcommand: string, args: readonly string[]): Parsed {
  try {
    return getopt(args, SPECS[subcommand] ?? [], subcommand === 'run');
  } catch (error) {
    if (error instanceof GetoptError) throw new UsageError(`${subcommand}: ${error.message}`);
    throw error;
  }
}

/** Whether this command line names a lock across hosts (postgres:<name>) rather than a PID file, by where the lock stands. */
export function isFleetCommandLine(argv: readonly string[]): boolean {
  const [subcommand, ...rest] = argv;
  if (subcommand === undefined || SPECS[subcommand] === undefined) return false;
  let parsed: Parsed;
  try {
    parsed = getopt(rest, SPECS[subcommand] ?? [], subcommand === 'run');
  } catch {
    return false; // the file lock's parser says what is wrong
  }
  return parsed.operands[0]?.startsWith(TARGET_PREFIX) === true;
}

function refuseFileOnly(subcommand: string, parsed: Parsed): void {
  for (const option of parsed.options) {
    const why = FILE_ONLY[option.key];
    if (why !== undefined)
      throw new UsageError(`${subcommand}: ${option.spelt} is for PID files, not postgres:<name> (${why})`);
  }
}

/** The name in `postgres:<name>`, checked as the library checks it (a mistake in the command line, exit 64). */
function lockName(subcommand: string, target: string | undefined): string {
  if (target === undefined || !target.startsWith(TARGET_PREFIX))
    throw new UsageError(`${subcommand}: the lock comes first: postgres:<name>`);
  const name = target.slice(TARGET_PREFIX.length);
  if (name === '') throw new UsageError(`${subcommand}: missing the lock's name after postgres:`);
  try {
    return checkName(name);
  } catch (error) {
    throw new UsageError(`${subcommand}: ${(error as Error).message}`);
  }
}

function oneLock(subcommand: string, operands: readonly string[]): string {
  const [target, ...extra] = operands;
  const name = lockName(subcommand, target);
  if (extra.length > 0) throw new UsageError(`${subcommand}: unexpected argument '${extra[0]}'`);
  return name;
}

function grace(value: string, spelt: string): number {
  const ms = parseSeconds(value, spelt, false);
  if (ms > MAX_GRACE_MS) {
    throw new UsageError(
      `run: ${spelt} takes at most ${MAX_GRACE_MS / 1000} seconds (the server's keepalives, which must outlast it, cannot be set longer), got '${value}'`,
    );
  }
  return ms;
}

function proxyPolicy(value: string): ProxyPolicy {
  if (value === 'warn' || value === 'refuse' || value === 'allow') return value;
  throw new UsageError(`run: --proxy takes warn, refuse or allow, got '${value}'`);
}

function parseRun(parsed: Parsed): FleetRunCommand {
  refuseFileOnly('run', parsed);
  const [target, ...after] = parsed.operands;
  const lock = lockName('run', target);
  const { command, shell } = runCommandOf(
    after,
    'pidguard run postgres:<name> [--] <command> [args...], or -c <string>',
  );
  const wait = lastValue(parsed, 'wait')?.value;
  const conflict = lastValue(parsed, 'conflict-exit-code')?.value;
  const graceGiven = lastValue(parsed, 'grace');
  const proxy = lastValue(parsed, 'proxy')?.value;
  const waitMs = typeof wait === 'string' ? parseSeconds(wait, '-w, --wait', true) : 0;
  return {
    name: 'run',
    lock,
    command,
    shell,
    waitMs: given(parsed, 'nonblock') ? 0 : waitMs,
    conflictExitCode: typeof conflict === 'string' ? parseExitCode(conflict) : 1,
    graceMs: typeof graceGiven?.value === 'string' ? grace(graceGiven.value, graceGiven.spelt) : DEFAULT_GRACE_MS,
    proxy: typeof proxy === 'string' ? proxyPolicy(proxy) : undefined,
  };
}

/** argv without node and the script, for a command line isFleetCommandLine() accepted. */
export function parseFleetCommandLine(argv: readonly string[]): FleetCommand {
  const [subcommand = '', ...rest] = argv;
  const parsed = parse(subcommand, rest);
  if (given(parsed, 'help')) return { name: 'help' };
  if (subcommand === 'run') return parseRun(parsed);
  refuseFileOnly(subcommand, parsed);
  const lock = oneLock(subcommand, parsed.operands);
  if (subcommand === 'status') return { name: 'status', lock, json: given(parsed, 'json') };
  const timeout = lastValue(parsed, 'timeout')?.value;
  if (subcommand === 'stop') {
    return {
      name: 'stop',
      lock,
      timeoutMs: typeof timeout === 'string' ? parseSeconds(timeout, '-t, --timeout', true) : DEFAULT_STOP_TIMEOUT_MS,
      okNoDo: given(parsed, 'oknodo'),
    };
  }
  return {
    name: 'wait',
    lock,
    timeoutMs: typeof timeout === 'string' ? parseSeconds(timeout, '-t, --timeout', true) : Infinity,
  };
}
