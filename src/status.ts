// Deciding what a PID file's state means, from facts gathered elsewhere. Pure.
import type { Verdict } from './holder-verdict';
import type { HeldMode } from './holding';
import { exclusiveHolderPid } from './kernel-locks';
import type { FlockHolder } from './proc-locks';
import type { ProcessFacts } from './process-info';
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
  /** Which kind of lock was looked for: the kernel's, or the stale-PID fallback's PID file. */
  mode: HeldMode;
  /**
   * How `locked` was told: Linux's /proc/locks (takes no lock), a brief shared-lock probe, the
   * PID in the file and its process (the fallback), or nothing to tell (no file, or not a regular one).
   */
  checkedBy: 'proc-locks' | 'probe' | 'pid' | 'none';
  /** Whether the process of `pid` (when not locked: of `recordedPid`) is running; null when there is no PID. */
  alive: boolean | null;
  /** When that process started, where the platform tells (Linux); else null. */
  startedAt: Date | null;
  /** Its command line, where the platform tells (Linux: /proc/<pid>/cmdline); else null. */
  commandLine: string | null;
}

/** What is known of one process, for the report. */
export interface ProcessView {
  facts: ProcessFacts;
  commandLine: string | null;
}

export type StatusFacts = {
  path: string;
  contents: PidFileContents;
  /** Looks up the process a PID names, when the report needs one. */
  lookUp: (pid: number) => ProcessView;
} & (
  | {
      mode: 'kernel';
      /** From /proc/locks, where it was read. */
      holders: readonly FlockHolder[] | null;
      /** From a probe, where /proc/locks could not answer. */
      probedLocked: boolean | null;
    }
  | {
      mode: 'pidfile';
      /** The fallback's verdict on the file; null when there is no regular file. */
      verdict: Verdict | null;
    }
);

interface Lock {
  locked: boolean;
  pid: number | null;
  checkedBy: LockStatus['checkedBy'];
}

function kernelLock(holders: readonly FlockHolder[] | null, probedLocked: boolean | null, recorded: number | null, lookUp: StatusFacts['lookUp']): Lock {
  let locked = false;
  let checkedBy: LockStatus['checkedBy'] = 'none';
  if (holders !== null) {
    locked = holders.some((holder) => holder.exclusive);
    checkedBy = 'proc-locks';
  } else if (probedLocked !== null) {
    locked = probedLocked;
    checkedBy = 'probe';
  }
  if (!locked) return { locked, pid: null, checkedBy };
  // A recorded PID whose process is gone was left by a killed holder; the kernel names the live one.
  const recordedAlive = recorded !== null && lookUp(recorded).facts.exists;
  return { locked, pid: recordedAlive ? recorded : exclusiveHolderPid(holders), checkedBy };
}

function fallbackLock(verdict: Verdict | null): Lock {
  if (verdict === null) return { locked: false, pid: null, checkedBy: 'none' };
  if (verdict.kind === 'held') return { locked: true, pid: verdict.pid, checkedBy: 'pid' };
  // Settling: an empty file moments old, whose holder is likely writing its PID.
  return { locked: verdict.kind === 'settling', pid: null, checkedBy: 'pid' };
}

export function describeStatus(facts: StatusFacts): LockStatus {
  const { path, contents, lookUp } = facts;
  const exists = contents.kind !== 'missing';
  const recordedPid = contents.kind === 'pid' ? contents.pid : null;
  const { locked, pid, checkedBy } = facts.mode === 'kernel'
    ? kernelLock(facts.holders, facts.probedLocked, recordedPid, lookUp)
    : fallbackLock(facts.verdict);
  const subject = pid ?? recordedPid;
  const view = subject === null ? null : lookUp(subject);
  return {
    path,
    locked,
    pid,
    recordedPid,
    exists,
    mode: facts.mode,
    checkedBy,
    alive: view === null ? null : view.facts.exists,
    startedAt: view?.facts.startedAtMs == null ? null : new Date(Math.round(view.facts.startedAtMs)),
    commandLine: view?.commandLine ?? null,
  };
}
