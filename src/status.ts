// Deciding what a PID file's state means, from facts gathered elsewhere. Pure.
import type { Verdict } from './stale-pid/verdict';
import type { HolderProof, NamedHolder } from './kernel/holder-proof';
import type { HeldMode } from './holding';
import type { ProcessFacts } from './process/info';
import type { PidFileContents } from './file/read';

/** What inspect() reports: enough for a health check or an "is it running?" answer. */
export interface LockStatus {
  /** The absolute path inspected. */
  path: string;
  /** Whether a holder has the lock now. */
  locked: boolean;
  /**
   * The holder's PID when locked, as `holderProof` says it was told: on Linux only a process
   * proven to hold the lock, or the kernel's record marked as unproven; null when none can be named.
   */
  pid: number | null;
  /**
   * How `pid` was told. 'fd': proven (Linux): that process has the file open and the lock is held
   * through that descriptor (/proc/<pid>/fdinfo). 'proc-locks': only /proc/locks' record of the
   * process that took the lock, which this process could not check (another user's process, and
   * this one is not root). 'pid-file': the PID the file records, trusted because its process runs
   * and nothing on this platform can prove more (macOS, the BSDs, Windows), or because the PID file
   * is the lock (mode 'pidfile'). null when `pid` is null.
   */
  holderProof: HolderProof | null;
  /** The PID the file records, even when nobody holds it (a holder that was SIGKILLed leaves one). */
  recordedPid: number | null;
  /**
   * Whether the process `recordedPid` names holds the lock: false for a PID left by a killed
   * holder (perhaps reused since by another process) or written in another PID namespace; null
   * when it could not be told (another user's process; a platform with no proof) or no PID is recorded.
   */
  recordedPidHolds: boolean | null;
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
      /** How the lock was looked for. */
      checkedBy: LockStatus['checkedBy'];
      /** Who holds it, as kernel/holder-proof.ts names them. */
      holder: NamedHolder;
    }
  | {
      mode: 'pidfile';
      /** The fallback's verdict on the file; null when there is no regular file. */
      verdict: Verdict | null;
    }
);

interface Lock {
  holder: NamedHolder;
  checkedBy: LockStatus['checkedBy'];
}

/** In mode 'pidfile' the PID file is the lock: its PID holds it when the verdict says so. */
function fallbackLock(verdict: Verdict | null, recordedPid: number | null): Lock {
  if (verdict === null)
    return {
      holder: { locked: false, pid: null, proof: null, recordedPid, recordedPidHolds: null },
      checkedBy: 'none',
    };
  if (verdict.kind === 'held')
    return {
      holder: { locked: true, pid: verdict.pid, proof: 'pid-file', recordedPid, recordedPidHolds: true },
      checkedBy: 'pid',
    };
  // Settling: an empty file moments old, whose holder is likely writing its PID.
  const recordedPidHolds = recordedPid === null ? null : false;
  return {
    holder: { locked: verdict.kind === 'settling', pid: null, proof: null, recordedPid, recordedPidHolds },
    checkedBy: 'pid',
  };
}

export function describeStatus(facts: StatusFacts): LockStatus {
  const { path, contents, lookUp } = facts;
  const exists = contents.kind !== 'missing';
  const recordedPid = contents.kind === 'pid' ? contents.pid : null;
  const { holder, checkedBy } =
    facts.mode === 'kernel'
      ? { holder: facts.holder, checkedBy: facts.checkedBy }
      : fallbackLock(facts.verdict, recordedPid);
  const { locked, pid } = holder;
  // The holder, when locked; else the process the file names. Never, while locked, a recorded
  // PID that was not named as the holder: that process may be any process at all.
  const subject = locked ? pid : recordedPid;
  const view = subject === null ? null : lookUp(subject);
  return {
    path,
    locked,
    pid,
    holderProof: holder.proof,
    recordedPid,
    recordedPidHolds: holder.recordedPidHolds,
    exists,
    mode: facts.mode,
    checkedBy,
    alive: view === null ? null : view.facts.exists,
    startedAt: view?.facts.startedAtMs == null ? null : new Date(Math.round(view.facts.startedAtMs)),
    commandLine: view?.commandLine ?? null,
  };
}
