// Starting `pidguard run`'s command and learning how it ended: in the addon on POSIX, which keeps
// the raw wait status (Node's child_process reports a real-time signal as exit code 0), and
// with Node's spawn on Windows, or where the addon could not be loaded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { binding, type Binding } from '../addon/binding';
import { cannotRunMessage } from './messages';

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
  /**
   * The command's PID before it runs, so that it can be recorded first (the addon holds the
   * forked process before its exec); null where it is known only once it runs (Node's spawn).
   */
  readonly pid: number | null;
  /** Lets the command run; resolves with its PID once it runs, or rejects with a CannotStartError. */
  run(): Promise<number>;
  /** Gives up a command not yet let run: it exits without running anything. */
  cancel(): void;
  /** Resolves once the command has ended and been reaped. */
  readonly ended: Promise<CommandEnd>;
  /** Sends `signal` to the command's process; nothing before there is one or once it has ended. */
  kill(signal: NodeJS.Signals): void;
}

/** A command that never started: its failure, told when it is let run. */
function failed(error: unknown): Command {
  return {
    pid: null,
    run: () => Promise.reject(error),
    cancel: () => {},
    ended: new Promise(() => {}),
    kill: () => {},
  };
}

export interface CommandOptions {
  env: NodeJS.ProcessEnv;
  /** A descriptor for the command to inherit as fd 3 (POSIX); null for none. */
  lockFd: number | null;
  /** Reap every child that ends, not only the command's: for a PID 1, which inherits every orphan. */
  reapOthers: boolean;
  /**
   * argv is one string for the shell (run -c): /bin/sh -c on POSIX, as system(3) runs one; on
   * Windows Node's shell, cmd.exe /d /s /c.
   */
  shell: boolean;
}

/** The shell that runs a command given as one string, on POSIX (flock(1) uses $SHELL; see docs/command.md). */
export const POSIX_SHELL = '/bin/sh';

/** Descriptions libuv has no entry for (it numbers fewer errors than the kernel has). */
const MORE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  ENOEXEC: 'exec format error',
  ECHILD: 'no child processes',
};

/** What an errno means, in libuv's words (`errno` negative, as libuv and Node number them). */
export function describeErrno(errno: number): string {
  const code = codeOf(errno);
  return getSystemErrorMap().get(errno)?.[1] ?? MORE_DESCRIPTIONS[code] ?? 'unknown error';
}

/** Says on stderr why command `name` could not be started, and returns the status to exit with (126, 127). */
export function reportCannotRun(name: string, error: NodeJS.ErrnoException): number {
  const code = error.code ?? 'UNKNOWN';
  const description = error.errno === undefined ? error.message : describeErrno(error.errno);
  // ENOENT for a path that exists: the file is there, its #! interpreter is not.
  const exists = name.includes('/') && fs.existsSync(name);
  const { status, message } = cannotRunMessage(name, code, description, exists);
  process.stderr.write(message);
  return status;
}

/** libuv's name for an errno, else the first of os.constants.errno's (libuv knows no ENOEXEC). */
function codeOf(errno: number): string {
  const named = getSystemErrorMap().get(errno)?.[0];
  if (named !== undefined) return named;
  const names = constants.errno as Record<string, number>;
  return Object.keys(names).find((name) => names[name] === -errno) ?? `E${-errno}`;
}

/** An error like Node's for errno `errno` (negative, as libuv numbers them). */
function errnoError(errno: number, syscall: string, file: string): CannotStartError {
  const code = codeOf(errno);
  return Object.assign(new Error(`${code}: ${describeErrno(errno)}, ${syscall} '${file}'`), {
    code,
    errno,
    syscall,
    path: file,
  });
}

type ChildCalls = Required<Pick<Binding, 'spawnChild' | 'childPid' | 'execChild' | 'cancelChild'>>;

function nativeCommand(native: ChildCalls, argv: readonly string[], options: CommandOptions): Command {
  const file = argv[0] ?? '';
  const envp = Object.entries(options.env).flatMap(([name, value]) =>
    value === undefined ? [] : [`${name}=${value}`],
  );
  if ([...argv, ...envp].some((text) => text.includes('\0')))
    return failed(errnoError(-(constants.errno.EINVAL ?? 22), 'execve', file));
  let running = false;
  let onEnd: (end: CommandEnd) => void = () => {};
  const ended = new Promise<CommandEnd>((resolve) => {
    onEnd = resolve;
  });
  const child = native.spawnChild(file, argv, envp, options.lockFd ?? -1, options.reapOthers, (code, signal, errno) => {
    // Reaped just now, on this thread: from here on the PID may be another process's.
    running = false;
    onEnd(errno === 0 ? { code, signal } : { code: -1, signal: 0, waitError: errnoError(-errno, 'waitid', file) });
  });
  if (typeof child === 'number') return failed(errnoError(child, 'fork', file));
  const pid = native.childPid(child);
  running = true;
  return {
    pid,
    run() {
      const outcome = native.execChild(child);
      return outcome < 0 ? Promise.reject(errnoError(outcome, 'execve', file)) : Promise.resolve(pid);
    },
    cancel() {
      native.cancelChild(child);
    },
    ended,
    kill(signal) {
      if (!running) return;
      try {
        process.kill(pid, signal);
      } catch {
        // already gone (a zombie, until reaped, still takes signals without harm)
      }
    },
  };
}

function nodeCommand(argv: readonly string[], { env, shell }: CommandOptions): Command {
  const [file = '', ...args] = argv;
  let child: ReturnType<typeof spawn> | undefined;
  let onEnd: (end: CommandEnd) => void = () => {};
  const ended = new Promise<CommandEnd>((resolve) => {
    onEnd = resolve;
  });
  return {
    pid: null,
    run() {
      try {
        child = spawn(file, args, { stdio: 'inherit', env, shell });
      } catch (error) {
        // Some failures are thrown at once rather than emitted (a name longer than NAME_MAX, ...).
        return Promise.reject(error);
      }
      const started = child;
      started.once('exit', (code, signal) => {
        // Node reports a signal it has no name for (POSIX real-time signals) as code 0, signal null.
        onEnd(signal === null ? { code: code ?? -1, signal: 0 } : { code: -1, signal: constants.signals[signal] ?? 0 });
      });
      return new Promise<number>((resolve, reject) => {
        started.once('spawn', () => resolve(started.pid ?? 0));
        started.once('error', (error) => {
          if (started.pid === undefined) reject(error);
          // once running, an error is a failed kill: it changes nothing here
        });
      });
    },
    cancel() {},
    ended,
    kill(signal) {
      child?.kill(signal);
    },
  };
}

/** The addon's calls for commands where it has them (POSIX); null on Windows or when it cannot be loaded. */
function childCalls(): ChildCalls | null {
  if (process.platform === 'win32') return null;
  let native: Binding;
  try {
    native = binding();
  } catch {
    return null; // acquire has met this already, and fell back to mode 'pidfile'
  }
  const { spawnChild, childPid, execChild, cancelChild } = native;
  if (spawnChild === undefined || childPid === undefined || execChild === undefined || cancelChild === undefined)
    return null;
  return { spawnChild, childPid, execChild, cancelChild };
}

/** Prepares the command `argv` (its name first, searched in PATH), to be let run with run(). */
export function startCommand(argv: readonly string[], options: CommandOptions): Command {
  const native = childCalls();
  if (native === null) return nodeCommand(argv, options);
  return nativeCommand(native, options.shell ? [POSIX_SHELL, '-c', argv[0] ?? ''] : argv, options);
}
