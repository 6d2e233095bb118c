// The handle of a held lock, and the cleanup that gives up every held lock when the process ends.
import { EventEmitter } from 'node:events';
import { isMainThread } from 'node:worker_threads';
import { invalidArgument, pathError } from './errors';
import type { Holding, HeldMode } from './holding';
import type { Logger } from './logger';
import { loadedBinding } from './addon/binding';
import { onProcessExit } from './util/exit-hook';
import { LONGEST_TIMER_MS } from './util/timers';

const heldLocks = new Set<PidLock>();

/**
 * Locks whose open file a child process shares (`pidguard run`'s command, which inherited the
 * descriptor): the exit cleanup leaves them alone, since unlocking or removing the file would
 * take the lock from a command that is still running. Exiting only closes this process's copy.
 */
const sharedWithChild = new WeakSet<PidLock>();

/**
 * The process's exit cleanup: this environment's locks, and on the main thread those of every
 * worker too, which the addon keeps in one list (a worker ends with the process without running
 * any JavaScript, so nothing else would remove their PID files). The addon's list leaves alone
 * what is shared with a child, as this loop does.
 */
function releaseAll(): void {
  for (const lock of heldLocks) if (!sharedWithChild.has(lock)) lock.release();
  if (isMainThread) loadedBinding()?.releaseAll();
}

function track(lock: PidLock): void {
  heldLocks.add(lock);
  onProcessExit(releaseAll);
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
    // Listening for 'lost' is asking to be told: start looking, unless watch() already does.
    this.on('newListener', (event: string | symbol) => {
      if (event === 'lost' && this.#watchTimer === null) this.watch();
    });
  }

  /**
   * Whether this process holds the lock now: false once released (and from the start for a
   * `failOpen` handle), and false once the path is seen not to name the file held any more.
   * Each read looks (an fstat of the held file and a stat of the path: a few microseconds); a
   * look that cannot tell (EACCES on the directory, say) changes nothing and is logged.
   */
  get held(): boolean {
    if (this.#holding === null) return false;
    try {
      this.verify();
    } catch (error) {
      this.#logger.warn(`could not verify ${this.path}: ${(error as Error).message}`);
    }
    return this.#holding !== null;
  }

  /**
   * Whether this process still holds the file at `path`: false once released, and false when the
   * file was removed or replaced behind its back (a cleanup script, an operator's `rm`), after
   * which a new process can take the path while this one runs. Throws, with the code and path,
   * only when it cannot be told (EACCES on the directory, say).
   *
   * A lock found lost is given up at once (its lock is on a file nobody else will open: it keeps
   * nobody out), `held` stays false, and 'lost' is emitted once, with an ELOST error naming the
   * path. What to do then is the holder's to decide: exit, or acquire the path again.
   */
  verify(): boolean {
    const holding = this.#holding;
    if (holding === null) return false;
    if (holding.verify()) return true;
    this.#lose(holding);
    return false;
  }

  #lose(holding: Holding): void {
    this.#stopWatching();
    this.#holding = null;
    untrack(this);
    try {
      holding.release(); // removes nothing: the path names another file now, or none
    } catch (error) {
      this.#logger.warn(`could not give up the lost lock on ${this.path}: ${(error as Error).message}`);
    }
    this.#logger.warn(`${this.path} was removed or replaced: this process no longer holds it`);
    const lost = pathError(
      'ELOST',
      'the PID file was removed or replaced; this process no longer holds it',
      'lstat',
      this.path,
    );
    process.nextTick(() => this.emit('lost', lost));
  }

  /**
   * Looks (verify()) every `intervalMs` (default 1000) until released or lost, so that 'lost' is
   * emitted even when nobody reads `held`. Adding a 'lost' listener starts this with the default
   * interval. The timer does not keep the process alive. Returns this lock.
   */
  watch(intervalMs = 1000): this {
    if (typeof intervalMs !== 'number' || !(intervalMs > 0) || intervalMs > LONGEST_TIMER_MS) {
      throw invalidArgument(
        `watch interval must be a positive number of milliseconds up to ${LONGEST_TIMER_MS}, got ${String(intervalMs)}`,
      );
    }
    this.#stopWatching();
    if (this.#holding === null) return this;
    this.#watchTimer = setInterval(() => void this.held, intervalMs);
    this.#watchTimer.unref();
    return this;
  }

  #stopWatching(): void {
    if (this.#watchTimer !== null) clearInterval(this.#watchTimer);
    this.#watchTimer = null;
  }

  /**
   * Gives the lock up; calling it again does nothing. It does not throw: the lock is released
   * whatever happens, and a PID file that could not be removed is reported to the logger as a
   * warning (the next holder overwrites it).
   */
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
    this.#held().keepAtExit(sharing);
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
