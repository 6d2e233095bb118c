// Starting `pidguard run`'s command and learning how it ended: in the addon on POSIX, which keeps
// the raw wait status (Node's child_process reports a real-time signal as exit code 0), and
// with Node's spawn on Windows, or where the addon could not be loaded.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { binding, type Binding } from '../native';

/** How the command ended: its exit code (signal 0), or the number of the signal that killed it (code -1). */
export interface CommandEnd {
  code: number;
  signal: number;
  /** Set when waiting for the command failed (ECHILD: something else reaped it); code and signal then say nothing. */
  waitError?: NodeJS.ErrnoException;
}

/** The command could not be started; `code` says why: ENOENT (not found), EACCES, ENOEXEC, ... */
export interface CannotStartError extends NodeJS.ErrnoException {
  code: string;
}

export interface Command {
  /** Resolves with the command's PID once it runs; rejects with a CannotStartError. */
  readonly started: Promise<number>;
  /** Resolves once the command has ended and been reaped. */
  readonly ended: Promise<CommandEnd>;
  /** Sends `signal` to the command while it runs; nothing before it has started or once it has ended. */
  kill(signal: NodeJS.Signals): void;
}

export interface CommandOptions {
  env: NodeJS.ProcessEnv;
  /** A descriptor for the command to inherit as fd 3 (POSIX); null for none. */
  lockFd: number | null;
  /** Reap every child that ends, not only the command's: for a PID 1, which inherits every orphan. */
  reapOthers: boolean;
}

/** Descriptions libuv has no entry for (it numbers fewer errors than the kernel has). */
const MORE_DESCRIPTIONS: Readonly<Record<string, string>> = { ENOEXEC: 'exec format error', ECHILD: 'no child processes' };

/** What an errno means, in libuv's words (`errno` negative, as libuv and Node number them). */
export function describeErrno(errno: number): string {
  const code = codeOf(errno);
  return getSystemErrorMap().get(errno)?.[1] ?? MORE_DESCRIPTIONS[code] ?? 'unknown error';
}

function codeOf(errno: number): string {
  const names = constants.errno as Record<string, number>;
  return Object.keys(names).find((name) => names[name] === -errno) ?? `E${-errno}`;
}

/** An error like Node's for errno `errno` (negative, as libuv numbers them). */
function errnoError(errno: number, syscall: string, file: string): CannotStartError {
  const code = codeOf(errno);
  return Object.assign(new Error(`${code}: ${describeErrno(errno)}, ${syscall} '${file}'`), { code, errno, syscall, path: file });
}

function nativeCommand(spawnChild: NonNullable<Binding['spawnChild']>, argv: readonly string[], options: CommandOptions): Command {
  const file = argv[0] ?? '';
  const envp = Object.entries(options.env).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${value}`]));
  if ([...argv, ...envp].some((text) => text.includes('\0'))) {
    const error = errnoError(-(constants.errno.EINVAL ?? 22), 'posix_spawnp', file);
    return { started: Promise.reject(error), ended: new Promise(() => {}), kill: () => {} };
  }
  let running = false;
  let onEnd: (end: CommandEnd) => void = () => {};
  const ended = new Promise<CommandEnd>((resolve) => {
    onEnd = resolve;
  });
  const pid = spawnChild(file, argv, envp, options.lockFd ?? -1, options.reapOthers, (code, signal, errno) => {
    // Reaped just now, on this thread: from here on the PID may be another process's.
    running = false;
    onEnd(errno === 0 ? { code, signal } : { code: -1, signal: 0, waitError: errnoError(-errno, 'waitid', file) });
  });
  if (pid < 0) return { started: Promise.reject(errnoError(pid, 'posix_spawnp', file)), ended, kill: () => {} };
  running = true;
  return {
    started: Promise.resolve(pid),
    ended,
    kill(signal) {
      if (!running) return;
      try {
        process.kill(pid, signal);
      } catch {
        // gone already (a zombie until it is reaped takes signals; this is the moment after)
      }
    },
  };
}

function nodeCommand(argv: readonly string[], { env }: CommandOptions): Command {
  const [file = '', ...args] = argv;
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(file, args, { stdio: 'inherit', env });
  } catch (error) {
    // Some failures are thrown at once rather than emitted (a name longer than NAME_MAX, ...).
    return { started: Promise.reject(error), ended: new Promise(() => {}), kill: () => {} };
  }
  const started = new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid ?? 0));
    child.once('error', (error) => {
      if (child.pid === undefined) reject(error);
      // once running, an error is a failed kill: it changes nothing here
    });
  });
  const ended = new Promise<CommandEnd>((resolve) => {
    child.once('exit', (code, signal) => {
      // Node reports a signal it has no name for (POSIX real-time signals) as code 0, signal null.
      resolve(signal === null ? { code: code ?? -1, signal: 0 } : { code: -1, signal: constants.signals[signal] ?? 0 });
    });
  });
  return {
    started,
    ended,
    kill(signal) {
      child.kill(signal);
    },
  };
}

/** The addon's spawnChild where it has one (POSIX); undefined on Windows or when it cannot be loaded. */
function spawner(): Binding['spawnChild'] {
  try {
    return binding().spawnChild;
  } catch {
    return undefined; // acquire has said why already, and fell back to mode 'pidfile'
  }
}

/** Starts the command `argv` (its name first, searched in PATH). */
export function startCommand(argv: readonly string[], options: CommandOptions): Command {
  const spawnChild = process.platform === 'win32' ? undefined : spawner();
  return spawnChild === undefined ? nodeCommand(argv, options) : nativeCommand(spawnChild, argv, options);
}
