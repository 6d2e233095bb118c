// The handle of a held lock, and the cleanup that gives up every held lock when the process ends.
import { onExit } from 'signal-exit';
import { withPath } from './errors';
import type { Logger } from './logger';
import { binding, type NativeHandle } from './native';

const heldLocks = new Set<PidLock>();
let removeExitHandler: (() => void) | null = null;

function releaseAll(): void {
  for (const lock of heldLocks) lock.release();
}

// signal-exit runs releaseAll on normal exit and on SIGINT, SIGTERM and SIGHUP, then lets the
// signal do what it would have done. It is hooked only while a lock is held, so a process
// holding none keeps its signal handling untouched.
function track(lock: PidLock): void {
  heldLocks.add(lock);
  removeExitHandler ??= onExit(releaseAll);
}

function untrack(lock: PidLock): void {
  heldLocks.delete(lock);
  if (heldLocks.size === 0 && removeExitHandler !== null) {
    removeExitHandler();
    removeExitHandler = null;
  }
}

/**
 * A held PID-file lock. `release()` (or leaving a `using` block) removes the PID file, while still
 * holding the lock and only if the path still names the file held, then unlocks and closes it.
 * A lock never released is released the same way when the process exits.
 */
export class PidLock implements Disposable, AsyncDisposable {
  /** The absolute path of the PID file. */
  readonly path: string;
  /** The PID recorded in the file: this process's. */
  readonly pid: number;
  /** Which kind of lock is held. */
  readonly mode: 'kernel';
  #handle: NativeHandle | null;
  readonly #logger: Logger;

  /** Made by acquire() and acquireSync(); not for constructing directly. */
  constructor(handle: NativeHandle, path: string, pid: number, mode: 'kernel', logger: Logger) {
    this.#handle = handle;
    this.path = path;
    this.pid = pid;
    this.mode = mode;
    this.#logger = logger;
    track(this);
  }

  /** True until release(). */
  get held(): boolean {
    return this.#handle !== null;
  }

  /**
   * Gives the lock up; calling it again does nothing. It does not throw: the lock is released
   * whatever happens, and a PID file that could not be removed is reported to the logger as a
   * warning (the next holder overwrites it).
   */
  release(): void {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    untrack(this);
    try {
      binding().unlock(handle, true);
      this.#logger.debug(`released ${this.path}`);
    } catch (error) {
      this.#logger.warn(`released ${this.path} but could not remove it: ${(withPath(error, this.path) as Error).message}`);
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
