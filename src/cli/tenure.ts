// `pidguard run`'s hold on its PID file while the command runs: watched, and taken again at once
// when the file is removed or replaced behind it (an operator's rm, a tmp cleaner), since from
// then on a second copy could lock a new file at the path and start.
//
// Nothing can keep the name: flock(2) is advisory and does not stop an unlink. A second copy
// started in between locks the new file first; then this one can only learn of it and stop its
// command, which takes the detection time plus the command's grace (see run.ts). Where the path
// cannot be taken by anyone (its directory removed too), the command runs on, and the path is
// tried again whenever it changes: whoever takes it first keeps it.
import { acquire } from '../acquire';
import { LockedError } from '../errors';
import type { PidLock } from '../pid-lock';
import { watchPath, type PathWatch } from './watch-path';

/** How often to look where inotify cannot be had: the detection bound docs/command.md states. */
export const POLL_MS = 1000;

export interface TenureHooks {
  /**
   * Whether the command has ended by itself (exited, even if not reaped yet). Its end may come
   * before pidguard hears of it, and a file naming an ended command is stale to a contender, who
   * may take it: that is the lock being left, not lost, and nothing is to be taken again for it.
   */
  ended(): boolean;
  /** The path was taken again as `lock`; throws if it cannot be made to name the command (then it counts as lost). */
  retaken(lock: PidLock): void;
  /** The path is another holder's now, or could not be made to name the command: `why`, one line. */
  lost(why: string): void;
  /** The path cannot be taken again for now (`error`: ENOENT, its directory gone; EACCES): tried again at its next change. */
  unheld(error: Error): void;
}

function holderNow(error: LockedError): string {
  return error.pid === null ? 'another process holds it now' : `PID ${error.pid} holds it now`;
}

export class Tenure {
  #lock: PidLock;
  readonly #shared: boolean;
  #hooks: TenureHooks | null = null;
  #watch: PathWatch | null = null;
  #checking = false;
  #again = false;
  #over = false;
  #lost = false;
  /** Lost, and not taken again yet: the next change is a chance to. */
  #unheld = false;

  constructor(lock: PidLock, shared: boolean) {
    this.#lock = lock;
    this.#shared = shared;
  }

  /** The lock held now: the one first taken, or the one taken again. */
  get lock(): PidLock {
    return this.#lock;
  }

  /** Whether the path was lost: another holder has it, or it could not be taken again. */
  get lost(): boolean {
    return this.#lost;
  }

  /** Starts watching the path, and looks once at once (it may have gone since it was taken). */
  watch(hooks: TenureHooks): void {
    if (this.#over) return;
    this.#hooks = hooks;
    this.#watch = watchPath(this.#lock.path, () => void this.#check(), { pollMs: POLL_MS, persistent: false });
    void this.#check();
  }

  /** Stops watching and gives the lock up (removing the file if it is still ours). */
  end(): void {
    this.#over = true;
    this.#stopWatching();
    this.#lock.release();
  }

  #stopWatching(): void {
    this.#watch?.close();
    this.#watch = null;
  }

  /** Whether the lock still holds the path; a look that cannot tell (EACCES) counts as yes, till the next. */
  #holds(): boolean {
    try {
      return this.#lock.verify();
    } catch {
      return true;
    }
  }

  async #check(): Promise<void> {
    if (this.#checking) {
      this.#again = true; // one more look once this one is done: the event may be about the new file
      return;
    }
    this.#checking = true;
    try {
      do {
        this.#again = false;
        if (this.#over || (!this.#unheld && this.#holds())) continue;
        if (this.#hooks?.ended() === true) {
          this.#leave();
          continue;
        }
        await this.#retake();
      } while (this.#again && !this.#over);
    } finally {
      this.#checking = false;
    }
  }

  async #retake(): Promise<void> {
    let lock: PidLock;
    try {
      lock = await acquire(this.#lock.path, { shared: this.#shared });
    } catch (error) {
      if (error instanceof LockedError) {
        this.#loseTo(holderNow(error));
      } else if (!this.#unheld) {
        this.#unheld = true;
        this.#hooks?.unheld(error instanceof Error ? error : new Error(String(error)));
      }
      return;
    }
    this.#unheld = false;
    if (this.#over) {
      lock.release(); // the command ended meanwhile
      return;
    }
    this.#lock = lock;
    try {
      this.#hooks?.retaken(lock);
    } catch (error) {
      lock.release();
      this.#loseTo(`it was taken again, but ${(error as Error).message}`);
      return;
    }
    this.#again = true; // look at the new file too: it may have gone already
  }

  /** The command ended: nothing more to watch or take again; run.ts ends with its status. */
  #leave(): void {
    this.#over = true;
    this.#hooks = null;
    this.#stopWatching();
  }

  #loseTo(why: string): void {
    if (this.#over) return;
    if (this.#hooks?.ended() === true) {
      this.#leave();
      return;
    }
    const hooks = this.#hooks;
    this.#over = true;
    this.#lost = true;
    this.#hooks = null;
    this.#stopWatching();
    hooks?.lost(why);
  }
}
