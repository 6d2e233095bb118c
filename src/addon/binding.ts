// The one place the C addon is loaded (prebuilt, or built at install by node-gyp-build) and typed.
import fs from 'node:fs';
import path from 'node:path';
import { addonLoadMessage } from './load-error';

/** An open, locked file held by the addon; opaque to JavaScript. */
export type NativeHandle = { readonly __nativeHandle: unique symbol };

/** A command's process forked by spawnChild and held before its exec. */
export type HeldChild = { readonly __heldChild: unique symbol };

/** A pending wait, for cancelWait. */
export type WaitTicket = { readonly __waitTicket: unique symbol };

/** A stale-PID fallback hold registered in the addon (softHold). */
export type SoftHold = { readonly __softHold: unique symbol };

/** A pending wait of a blocked thread, for waitSyncFor and waitSyncEnd. */
export type SyncWaitTicket = { readonly __syncWaitTicket: unique symbol };

/** What `probe` found at a path (numbers shared with native/pidguard.h). */
export const ProbeState = { Missing: 0, Unlocked: 1, Locked: 2 } as const;
export type ProbeState = (typeof ProbeState)[keyof typeof ProbeState];

/** The addon's own error numbers for its EPERM refusals (shared with native/pidguard.h). */
export const NativeErrno = { untrusted: -4, unsafePath: -5 } as const;

/** What readOpened found: fstat's facts (as Node's bigint stat names them) and the bytes read. */
export interface OpenedFile {
  bytes: Buffer;
  dev: bigint;
  ino: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  nlink: bigint;
  mtimeNs: bigint;
}

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
  /** A descriptor to read `path`, reached past no other user's symlink and opened without following one (POSIX; ENOSYS on Windows). */
  openToRead(path: string): number;
  /** Reads a descriptor from openToRead: the file's facts, and up to `size` bytes of a regular file. */
  readOpened(fd: number, size: number): OpenedFile;
  /** Closes a descriptor from openToRead or openProcess. */
  closeDescriptor(fd: number): void;
  /** Pins process `pid` (a pidfd), so that signalProcess reaches it or nobody (ESRCH once it ended); ENOSYS except on Linux. */
  openProcess(pid: number): number;
  /** Sends signal number `signal` to the process openProcess pinned. */
  signalProcess(fd: number, signal: number): void;
  /** Replaces the text of a held PID file (truncate, then write). */
  rewrite(handle: NativeHandle, text: string): void;
  /** Whether the locked path still names the held file. */
  verify(handle: NativeHandle): boolean;
  /** The held file's POSIX descriptor, for a child to inherit; -1 on Windows. */
  descriptor(handle: NativeHandle): number;
  /** When process `pid` started, in ms since 1970 (Windows: GetProcessTimes); null where not told or gone. */
  processStartTime(pid: number): number | null;
  /** Waits on a thread of its own; `done` runs on this thread with the handle, or an error (ECANCELED once cancelled). */
  wait(
    path: string,
    flags: number,
    text: string | null,
    done: (error: NativeError | null, handle: NativeHandle | null) => void,
  ): WaitTicket;
  /** Ends a pending wait soon; nothing once it has been delivered. */
  cancelWait(ticket: WaitTicket): void;
  /** Starts a wait of the calling thread (on a thread of its own), for waitSyncFor and waitSyncEnd. */
  waitSyncStart(path: string, flags: number, text: string | null): SyncWaitTicket;
  /** Blocks this thread at most `sliceMs`: the handle once granted, undefined while still waiting; throws on failure. */
  waitSyncFor(ticket: SyncWaitTicket, sliceMs: number): NativeHandle | undefined;
  /** Ends the wait: the handle if it was granted in the meantime, else null. */
  waitSyncEnd(ticket: SyncWaitTicket): NativeHandle | null;
  /** While `keep`, the process's exit cleanup leaves this lock alone (another process shares it). */
  keepAtExit(handle: NativeHandle, keep: boolean): void;
  /** Gives up every lock of every environment (main thread and workers) of this process: for its exit. */
  releaseAll(): void;
  /** Registers a stale-PID fallback hold on `path`, for every environment of this process to see; gone with its handle. */
  softHold(path: string): SoftHold;
  /** Takes a hold off (idempotent). */
  softRelease(hold: SoftHold): void;
  /** How many fallback holds the environments of this process (main thread and workers) have on `path`. */
  softHeld(path: string): number;
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
  readonly MKDIR: number;
}

let loaded: Binding | undefined;
/** Why the addon could not be loaded: kept, since trying again in this process cannot succeed. */
let failure: Error | undefined;

/** pidguard's package root: this file is in dist/addon/, two levels below it, unless the code was bundled. */
const packageRoot = path.join(__dirname, '..', '..');

function isBundled(): boolean {
  try {
    return (
      (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { name?: unknown }).name !==
      'pidguard'
    );
  } catch {
    return true;
  }
}

/** Whether a runtime refused a permission (Deno's NotCapable), rather than anything being missing. */
function refusedPermission(error: unknown): boolean {
  const name = error instanceof Error ? error.name : '';
  return name === 'NotCapable' || name === 'PermissionDenied';
}

/**
 * The addon where this package keeps it, for a runtime that lets code load native modules but not
 * read the environment (Deno with --allow-ffi and without --allow-env), where node-gyp-build
 * itself cannot load: it reads its variables as it loads. Its two usual places only: the build
 * made at install, and the prebuild for this platform (musl where Alpine says so, as it decides).
 */
function addonInPackage(): string | null {
  const libc = fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
  const prebuilds = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  const candidates = [
    path.join(packageRoot, 'build', 'Release', 'pidguard.node'),
    path.join(prebuilds, `pidguard.${libc}.node`),
    path.join(prebuilds, 'pidguard.node'),
  ];
  return candidates.find((file) => fs.existsSync(file)) ?? null;
}

/**
 * The addon: a prebuild for this platform or the build made at install (node-gyp-build), else,
 * for a bundled copy of pidguard, a pidguard.node placed beside the bundle.
 */
function loadAddon(): Binding {
  try {
    const nodeGypBuild = require('node-gyp-build') as typeof import('node-gyp-build');
    return nodeGypBuild(packageRoot) as Binding;
  } catch (cause) {
    const found = refusedPermission(cause) ? addonInPackage() : path.join(__dirname, 'pidguard.node');
    if (found === null || !fs.existsSync(found)) throw cause;
    return require(found) as Binding;
  }
}

/**
 * Loads the addon on first use, so that importing pidguard costs no native load until needed.
 * A failed load is remembered and thrown again (ERR_PIDGUARD_NATIVE, saying why and what to do).
 */
export function binding(): Binding {
  if (failure !== undefined) throw failure;
  if (loaded === undefined) {
    try {
      loaded = loadAddon();
    } catch (cause) {
      const deno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
      const text = addonLoadMessage({
        cause,
        bundled: isBundled(),
        deno,
        platform: process.platform,
        arch: process.arch,
      });
      const error = new Error(text, { cause }) as Error & { code: string };
      error.code = 'ERR_PIDGUARD_NATIVE';
      failure = error;
      throw error;
    }
  }
  return loaded;
}

/**
 * A path as the addon must be given it: on Windows in the \\?\ form that Node's own fs uses
 * (path.toNamespacedPath), without which CreateFileW refuses paths of 260 characters or more.
 */
export function nativePath(file: string): string {
  return process.platform === 'win32' ? path.toNamespacedPath(file) : file;
}

/** The addon if it has been loaded in this environment, without loading it. */
export function loadedBinding(): Binding | undefined {
  return loaded;
}

export function isNativeError(error: unknown): error is NativeError {
  return error instanceof Error && typeof (error as Partial<NativeError>).syscall === 'string';
}
