// Deciding what a PID file's state means, from facts gathered elsewhere. Pure.
import type { FlockHolder } from './proc-locks';
import { exclusiveHolderPid } from './kernel-locks';
import type { PidFileContents } from './read-pid';

/** What inspect() reports: enough for a health check or an "is it running?" answer. */
export interface LockStatus {
  /** The absolute path inspected. */
  path: string;
  /** Whether a holder has the lock now. */
  locked: boolean;
  /** The holder's PID when locked: the one recorded in the file, else the kernel's record. */
  pid: number | null;
  /** The PID the file records, even when nobody holds it (a holder that was SIGKILLed leaves one). */
  recordedPid: number | null;
  /** Whether a file exists at the path. */
  exists: boolean;
  /** Which kind of lock was looked for. */
  mode: 'kernel';
  /** How `locked` was told: Linux's /proc/locks (takes no lock), or a brief shared-lock probe. */
  checkedBy: 'proc-locks' | 'probe' | 'none';
}

export interface StatusFacts {
  path: string;
  contents: PidFileContents;
  /** From /proc/locks, where it was read. */
  holders: readonly FlockHolder[] | null;
  /** From a probe, where /proc/locks could not answer. */
  probedLocked: boolean | null;
}

export function describeStatus({ path, contents, holders, probedLocked }: StatusFacts): LockStatus {
  const exists = contents.kind !== 'missing';
  const recordedPid = contents.kind === 'pid' ? contents.pid : null;
  let locked = false;
  let checkedBy: LockStatus['checkedBy'] = 'none';
  if (holders !== null) {
    locked = holders.some((holder) => holder.exclusive);
    checkedBy = 'proc-locks';
  } else if (probedLocked !== null) {
    locked = probedLocked;
    checkedBy = 'probe';
  }
  const pid = locked ? (recordedPid ?? exclusiveHolderPid(holders)) : null;
  return { path, locked, pid, recordedPid, exists, mode: 'kernel', checkedBy };
}
