// The one place the C addon is loaded (prebuilt, or built at install by node-gyp-build) and typed.
import path from 'node:path';

/** An open, locked file held by the addon; opaque to JavaScript. */
export type NativeHandle = { readonly __nativeHandle: unique symbol };

/** A command's process forked by spawnChild and held before its exec. */
export type HeldChild = { readonly __heldChild: unique symbol };

/** A pending wait, for cancelWait. */
export type WaitTicket = { readonly __waitTicket: unique symbol };

/** What `probe` found at a path (numbers shared with native/pidguard.h). */
export const ProbeState = { Missing: 0, Unlocked: 1, Locked: 2 } as const;
export type ProbeState = (typeof ProbeState)[keyof typeof ProbeState];

/** An error thrown by the addon: Node's fs error shape, without the path (the caller adds it). */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface Binding {
  /** Takes the lock without waiting; null when another holder has it. */
  lock(path: string, flags: number, text: string | null): NativeHandle | null;
  /** Removes the locked path if `remove` and it still names the held file, then unlocks and closes. */
  unlock(handle: NativeHandle, remove: boolean): void;
  probe(path: string): ProbeState;
  /** Whether the file system holding `path` gives locks at all, asked without taking one (F_GETLK). */
  locksSupported(path: string): boolean;
  /** Replaces the text of a held PID file (truncate, then write). */
  rewrite(handle: NativeHandle, text: string): void;
  /** Whether the locked path still names the held file. */
  verify(handle: NativeHandle): boolean;
  /** The held file's POSIX descriptor, for a child to inherit; -1 on Windows. */
  descriptor(handle: NativeHandle): number;
  /** When process `pid` started, in ms since 1970 (Windows: GetProcessTimes); null where not told or gone. */
  processStartTime(pid: number): number | null;
  /** Waits on a thread of its own; `done` runs on this thread with the handle, or an error (ECANCELED once cancelled). */
  wait(path: string, flags: number, text: string | null, done: (error: NativeError | null, handle: NativeHandle | null) => void): WaitTicket;
  /** Ends a pending wait soon; nothing once it has been delivered. */
  cancelWait(ticket: WaitTicket): void;
  /** Waits, blocking this thread, at most `timeoutMs` (-1: no limit); null when it timed out. */
  waitSync(path: string, flags: number, text: string | null, timeoutMs: number): NativeHandle | null;
  /**
   * POSIX only (absent on Windows): forks a command's process (native/child_binding.c) with
   * every signal at its default action, stdio shared and `lockFd` (unless -1) at descriptor 3,
   * held before its exec until execChild; or a negative errno when the fork failed. `done` runs
   * once it has ended and been reaped: its exit code and 0, or -1 and the signal that killed it
   * (any number, the real-time ones included), or with `errno` set when waiting for it failed.
   * `reapOthers` (for PID 1) reaps every other child that ends meanwhile.
   */
  spawnChild?: (
    file: string,
    argv: readonly string[],
    envp: readonly string[],
    lockFd: number,
    reapOthers: boolean,
    done: (code: number, signal: number, errno: number) => void,
  ) => HeldChild | number;
  /** The PID of a forked command, known before it runs. */
  childPid?: (child: HeldChild) => number;
  /** Lets a held command exec: 0, or the negative errno its exec met (it then exits 127). Once. */
  execChild?: (child: HeldChild) => number;
  /** Gives a held command up: it exits 127 without running anything. */
  cancelChild?: (child: HeldChild) => void;
  readonly SHARED: number;
  readonly CREATE: number;
  readonly PIDFILE: number;
}

let loaded: Binding | undefined;
/** Why the addon could not be loaded: kept, since trying again in this process cannot succeed. */
let failure: Error | undefined;

/**
 * Loads the addon on first use, so that importing pidguard costs no native load until needed.
 * A failed load is remembered and thrown again: callers that fall back without the addon (mode
 * 'auto', inspect, the fallback's start times) then pay for the attempt once, not per call.
 */
export function binding(): Binding {
  if (failure !== undefined) throw failure;
  if (loaded === undefined) {
    try {
      const nodeGypBuild = require('node-gyp-build') as typeof import('node-gyp-build');
      loaded = nodeGypBuild(path.join(__dirname, '..')) as Binding;
    } catch (cause) {
      const error = new Error(
        `pidguard: the native addon could not be loaded (${(cause as Error).message}); ` +
          'reinstall with a C compiler available (npm rebuild pidguard)',
        { cause },
      ) as Error & { code: string };
      error.code = 'ERR_PIDGUARD_NATIVE';
      failure = error;
      throw error;
    }
  }
  return loaded;
}

export function isNativeError(error: unknown): error is NativeError {
  return error instanceof Error && typeof (error as Partial<NativeError>).syscall === 'string';
}
