// What a held lock is underneath a PidLock: a kernel lock on an open file, or a PID file that is
// its own lock (the stale-PID fallback).

/** Which kind of lock is held: the kernel's, or the stale-PID fallback. */
export type HeldMode = 'kernel' | 'pidfile';

export interface Holding {
  readonly mode: HeldMode;
  /**
   * Gives the lock up, removing the PID file first (if this holding removes it, and only if it is
   * still the one held). The lock is given up even when this throws: the throw is about removal.
   */
  release(): void;
  /** Whether the path still names the file held: false once it was removed or replaced. */
  verify(): boolean;
  /** Records another process's PID in the held PID file. */
  recordPid(pid: number): void;
  /** The descriptor a child may inherit to share the lock; null when there is none to share. */
  descriptor(): number | null;
  /**
   * While `keep`, the process-wide exit cleanup (the addon's, for locks held in any thread) leaves
   * this lock alone: a child process shares it.
   */
  keepAtExit(keep: boolean): void;
}
