// The contract every mechanism of locking keeps (kernel/, stale-pid/): take a lock, at once or
// waiting as the options say, and give back what holds it. The surface (acquire.ts) chooses one
// by the options and never names its internals; a new mechanism is one more folder keeping this.
import type { HeldMode, Holding } from './holding';
import type { SettledOptions } from './options';

/** A PID file (created, and written unless shared) or any other file (left as it is). */
export type FileKind = 'pidfile' | 'plain';

export interface Mechanism {
  /** What a lock it takes is, in PidLock.mode. */
  readonly mode: HeldMode;
  /** Whether it can take this kind of lock at all (the fallback takes only exclusive PID files). */
  covers(settled: SettledOptions, kind: FileKind): boolean;
  /**
   * Takes the lock, waiting as `settled.waitMs` and `settled.signal` say. Rejects with
   * LockedError when another holder keeps it, and with an error naming the path otherwise.
   */
  take(settled: SettledOptions, kind: FileKind): Promise<Holding>;
  /** take(), blocking this thread. */
  takeSync(settled: SettledOptions, kind: FileKind): Holding;
}
