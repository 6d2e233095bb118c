// The handle of a held lock, and the cleanup that gives up every held lock when the process ends.
import { EventEmitter } from 'node:events';
import { invalidArgument, pathError } from './errors';
import type { Holding, HeldMode } from './holding';
import type { Logger } from './logger';

const heldLocks = new Set<PidLock>();
let exitHandlerInstalled = false;

/**
 * Locks whose open file a child process shares (`pidguard run`'s command, which inherited the
 * descriptor): the exit cleanup leaves them alone, since unlocking or removing the file would
 * take the lock from a command that is still running. Exiting only closes this process's copy.
 */
const sharedWithChild = new WeakSet<PidLock>();

function releaseAll(): void {
  for (const lock of heldLocks) if (!sharedWithChild.has(lock)) lock.release();
}

// signal-exit runs releaseAll on normal exit and on SIGINT, SIGTERM and SIGHUP, then lets the
// signal do what it would have done (or leaves it to the application's own listeners, if any).
// It is hooked when the first lock is taken and stays hooked: hooking and unhooking around every
// lock costs some 70 signal-mask and signal-handler system calls, more than the lock itself.
// signal-exit is loaded then too, not at require(): it is a third of pidguard's load time.
function track(lock: PidLock): void {
  heldLocks.add(lock);
  if (!exitHandlerInstalled) {
    (require('signal-exit') as typeof import('signal-exit')).onExit(releaseAll);
    exitHandlerInstalled = true;
  }
}

function untrack(lock: PidLock): void {
  heldLocks.delete(lock);
}

/**
 * A held lock. For a PID file taken exclusively, `release()` (or leaving a `using` block) removes
 * the file, while still holding the lock and only if the path still names the file held, then
 * unlocks and closes it; shared locks and plain file locks leave the file where it is.
 * A lock never released is released the same way when the process exits.
 */
export class PidLock extends EventEmitter implements Disposable, AsyncDisposable {
  /** The absolute path of the locked file. */
  readonly path: string;
  /** The holder's PID: this process's. Recorded in the file for an exclusive PID-file lock. */
  readonly pid: number;
  /** Which kind of lock is held: `kernel` (flock, LockFileEx) or `pidfile` (the stale-PID fallback). */
  readonly mode: HeldMode;
  /** A shared (reader) lock rather than an exclusive one. */
  readonly shared: boolean;
  #holding: Holding | null;
  readonly #logger: Logger;
  #watchTimer: NodeJS.Timeout | null = null;

  /**
   * Made by acquire(), lock() and their Sync forms; not for constructing directly. A null holding
   * is the unheld handle that `failOpen` gives when the lock could not be taken.
   */
  constructor(holding: Holding | null, path: string, mode: HeldMode, shared: boolean, logger: Logger) {
    super();
    this.#holding = holding;
    this.path = path;
    this.pid = process.pid;
    this.mode = mode;
    this.shared = shared;
    this.#logger = logger;
    if (holding !== null) track(this);
  }

  /** True until release(); false from the start for a `failOpen` handle whose lock was not taken. */
  get held(): boolean {
    return this.#holding !== null;
  }

  /**
   * Gives the lock up; calling it again does nothing. It does not throw: the lock is released
   * whatever happens, and a PID file that could not be removed is reported to the logger as a
   * warning (the next holder overwrites it).
   */
  /**
   * Whether this process still holds the file at `path`: false once released, and false when the
   * file was removed or replaced behind its back (a cleanup script, an operator's `rm`), after
   * which a new process can take the path while this one runs. Throws, with the code and path,
   * only when it cannot be told (EACCES on the directory, say).
   */
  verify(): boolean {
    return this.#holding?.verify() ?? false;
  }

  /**
   * Checks verify() every `intervalMs` (default 1000) until release, and emits 'lost' (with an
   * ELOST error naming the path) the first time it fails, so that a service can stop or re-take
   * its lock. The timer does not keep the process alive. Returns this lock.
   */
  watch(intervalMs = 1000): this {
    if (typeof intervalMs !== 'number' || !(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw invalidArgument(`watch interval must be a positive number of milliseconds, got ${String(intervalMs)}`);
    }
    this.#stopWatching();
    if (this.#holding === null) return this;
    this.#watchTimer = setInterval(() => this.#check(), intervalMs);
    this.#watchTimer.unref();
    return this;
  }

  #check(): void {
    let held: boolean;
    try {
      held = this.verify();
    } catch (error) {
      this.#logger.warn(`could not verify ${this.path}: ${(error as Error).message}`);
      return; // perhaps passing; look again next time
    }
    if (held || this.#holding === null) return;
    this.#stopWatching();
    this.emit('lost', pathError('ELOST', 'the PID file was removed or replaced; this process no longer holds it', 'lstat', this.path));
  }

  #stopWatching(): void {
    if (this.#watchTimer !== null) clearInterval(this.#watchTimer);
    this.#watchTimer = null;
  }

  release(): void {
    this.#stopWatching();
    const holding = this.#holding;
    if (holding === null) return;
    this.#holding = null;
    untrack(this);
    try {
      holding.release();
      this.#logger.debug(`released ${this.path}`);
    } catch (error) {
      this.#logger.warn(`released ${this.path} but could not remove it: ${(error as Error).message}`);
    }
  }

  /**
   * @internal For `pidguard run`: records another PID in the held PID file, the command's, so
   * that `kill $(cat file)` reaches the service itself.
   */
  recordPid(pid: number): void {
    this.#held().recordPid(pid);
  }

  /**
   * @internal For `pidguard run`: the held file's descriptor, for the command to inherit so that
   * the lock lasts as long as the command; null where there is none to share.
   */
  descriptor(): number | null {
    return this.#held().descriptor();
  }

  /**
   * @internal For `pidguard run`: while `sharing`, a child process holds the lock with this one
   * (it inherited the descriptor, or the file names it), and this process's exit, by a signal, an
   * uncaught error or process.exit(), leaves the lock and the file to it. release() is unchanged.
   */
  shareWithChild(sharing: boolean): void {
    if (sharing) sharedWithChild.add(this);
    else sharedWithChild.delete(this);
  }

  #held(): Holding {
    if (this.#holding === null) throw new Error(`pidguard: the lock on ${this.path} is not held`);
    return this.#holding;
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
