// Which process to name as a kernel lock's holder, and on what evidence. Pure: the looking is
// done by the check passed in (kernel/holders.ts on Linux).
//
// The candidates are the PID the file records and the PID /proc/locks prints for the exclusive
// lock. Where holders can be proven (Linux), a candidate is named only when its descriptors prove
// it holds the lock ('fd'); one whose descriptors cannot be read is named only as the kernel's
// record, marked unproven ('proc-locks'); otherwise nobody is named. Where nothing proves it
// (macOS, the BSDs, Windows) the file's PID is trusted when its process runs ('pid-file').
import type { HolderCheck } from './holders';
import type { FlockHolder } from './proc-locks';
import type { ProcSteps } from '../process/proc-io';

/**
 * How the holder's PID was told. 'fd': proven, by its open descriptor of the file holding the
 * lock. 'proc-locks': only the kernel's record of the process that took the lock, which could not
 * be checked. 'pid-file': the PID the file records, trusted where nothing can prove it.
 */
export type HolderProof = 'fd' | 'proc-locks' | 'pid-file';

/** The holder as far as it could be told. */
export interface NamedHolder {
  /** Whether an exclusive holder has the lock. */
  locked: boolean;
  pid: number | null;
  /** How `pid` was told; null when it is null. */
  proof: HolderProof | null;
  /** The PID the file records, if any. */
  recordedPid: number | null;
  /** Whether the PID the file records holds the lock: null when it could not be told, or no PID is recorded. */
  recordedPidHolds: boolean | null;
}

export interface HolderFacts {
  /** The PID the file records, if any. */
  recordedPid: number | null;
  /** The file's flock holders in /proc/locks; null when it was not read. */
  listed: readonly FlockHolder[] | null;
  /** Where /proc/locks was not read: whether the file was found locked otherwise (null: not known). */
  lockedOtherwise: boolean | null;
}

/** Looks at process `pid`'s descriptors (kernel/holders.ts checkHolder). */
export type CheckHolder = (pid: number) => ProcSteps<HolderCheck>;

/** Reuses each check: the file's PID and the kernel's record are often the same process. */
function remembering(check: CheckHolder): CheckHolder {
  const seen = new Map<number, HolderCheck>();
  return function* (pid) {
    let found = seen.get(pid);
    if (found === undefined) {
      found = yield* check(pid);
      seen.set(pid, found);
    }
    return found;
  };
}

function unlocked(facts: HolderFacts): NamedHolder {
  const checked = facts.listed !== null || facts.lockedOtherwise !== null;
  const { recordedPid } = facts;
  return {
    locked: false,
    pid: null,
    proof: null,
    recordedPid,
    recordedPidHolds: checked && recordedPid !== null ? false : null,
  };
}

/** Where nothing proves a holder: the file's PID while its process runs, else the kernel's record. */
function trusted(facts: HolderFacts, running: (pid: number) => boolean): NamedHolder {
  const { recordedPid, listed } = facts;
  if (recordedPid !== null && running(recordedPid))
    return { locked: true, pid: recordedPid, proof: 'pid-file', recordedPid, recordedPidHolds: null };
  const kernelPid = listed?.find((holder) => holder.exclusive && holder.pid !== null)?.pid ?? null;
  return {
    locked: true,
    pid: kernelPid,
    proof: kernelPid === null ? null : 'proc-locks',
    recordedPid,
    recordedPidHolds: null,
  };
}

/**
 * Names the holder of a file from `facts`. `check` proves candidates where the platform can
 * (null elsewhere); `running` tells whether a PID's process runs, for the trust of other platforms.
 */
export function* nameHolder(
  facts: HolderFacts,
  check: CheckHolder | null,
  running: (pid: number) => boolean,
): ProcSteps<NamedHolder> {
  const { recordedPid } = facts;
  const writers = facts.listed?.filter((holder) => holder.exclusive) ?? null;
  const listedLocked = writers === null ? facts.lockedOtherwise === true : writers.length > 0;
  if (check === null) return listedLocked ? trusted(facts, running) : unlocked(facts);
  // Outside the first PID namespace (a container), /proc/locks leaves out a lock whose taker has
  // ended or is not visible there, though another process (its child) may hold it: the file's
  // PID, while its process runs, is looked at even then.
  if (!listedLocked && (recordedPid === null || !running(recordedPid))) return unlocked(facts);
  const look = remembering(check);
  const recorded = recordedPid === null ? null : yield* look(recordedPid);
  if (recorded === 'holds') return { locked: true, pid: recordedPid, proof: 'fd', recordedPid, recordedPidHolds: true };
  if (!listedLocked) return unlocked(facts);
  const recordedPidHolds = recorded === 'not' || recorded === 'twin' ? false : null;
  if (writers === null) return { locked: true, pid: null, proof: null, recordedPid, recordedPidHolds };
  const lines: { pid: number | null; check: HolderCheck | null }[] = [];
  for (const writer of writers)
    lines.push({ pid: writer.pid, check: writer.pid === null ? null : yield* look(writer.pid) });
  // A lock its taker holds on another file with the same key is that file's, not this one's.
  const ours = lines.filter((line) => line.check !== 'twin');
  if (ours.length === 0) return unlocked(facts);
  const proven = ours.find((line) => line.check === 'holds');
  if (proven !== undefined) return { locked: true, pid: proven.pid, proof: 'fd', recordedPid, recordedPidHolds };
  const unchecked = ours.filter((line) => line.check === 'unknown');
  if (unchecked.length === 1)
    return { locked: true, pid: unchecked[0]?.pid ?? null, proof: 'proc-locks', recordedPid, recordedPidHolds };
  return { locked: true, pid: null, proof: null, recordedPid, recordedPidHolds };
}

/**
 * Of the processes a scan found holding the lock (a family sharing one open file description),
 * the one to signal: the one whose parent is not among them, when there is exactly one.
 */
export function familyHead(holders: readonly { pid: number; ppid: number | null }[]): number | null {
  const pids = new Set(holders.map((holder) => holder.pid));
  const heads = holders.filter((holder) => holder.ppid === null || !pids.has(holder.ppid));
  return heads.length === 1 ? (heads[0]?.pid ?? null) : null;
}
