// Proof of who holds a flock (Linux): a process holds the lock on a file when one of its
// descriptors refers to that file and that descriptor's /proc/<pid>/fdinfo lists an exclusive
// FLOCK lock.
//
// /proc/locks is not proof: it prints the process that took the lock, and a flock belongs to the
// open file description, which a child may have inherited and kept after the locker died (a
// `pidguard run` SIGKILLed while its command runs); by then the printed PID may be reused by an
// unrelated process. Nor is the PID in the file: a holder SIGKILLed long ago may have left it, or
// a holder in another PID namespace wrote its own numbering of itself. fdinfo's "lock:" lines are
// per open file description, so every process sharing the locked description is proven.
import fs from 'node:fs';
import { nameHolder, type NamedHolder } from './holder-proof';
import type { LockedFile } from './locks';
import { fdinfoLocks } from './proc-fdinfo';
import { identity, list, text, type ProcSteps } from '../process/proc-io';
import type { FlockHolder } from './proc-locks';
import { processRunning } from '../process/info';
import type { PidFileContents } from '../file/read';

/**
 * What looking at one process's descriptors found. 'twin': it holds a flock listed under the
 * file's key, but on another file (btrfs subvolumes share the device the kernel prints, and each
 * numbers its inodes from 256). 'unknown': its descriptors cannot be read by this process (another
 * user's process when this one is not root; /proc mounted with hidepid).
 */
export type HolderCheck = 'holds' | 'twin' | 'not' | 'unknown';

let available: boolean | undefined;

/**
 * Whether this platform can prove a holder: Linux, with /proc mounted and readable (Deno without
 * -A refuses every read of /proc, and its existsSync throws rather than answer).
 */
export function holdersProvable(): boolean {
  if (available === undefined) {
    try {
      available = process.platform === 'linux' && fs.existsSync('/proc/self/fdinfo');
    } catch {
      available = false;
    }
  }
  return available;
}

function cannotRead(code: string): boolean {
  return code === 'EACCES' || code === 'EPERM';
}

/**
 * Whether `pid` names a thread that is not its process's main thread: /proc/<tid> is there though
 * not listed, and shares the process's descriptors, but the ID goes to another process once that
 * thread ends while the process holds on.
 */
function* isOtherThread(pid: number): ProcSteps<boolean> {
  const status = yield* text(`/proc/${pid}/status`);
  const tgid = status.ok ? /^Tgid:\s*(\d+)$/m.exec(status.value)?.[1] : undefined;
  return tgid !== undefined && Number(tgid) !== pid;
}

/** Whether process `pid` holds the exclusive flock on `file`, by its descriptors. */
export function* checkHolder(pid: number, file: LockedFile): ProcSteps<HolderCheck> {
  if (yield* isOtherThread(pid)) return 'not';
  const fds = yield* list(`/proc/${pid}/fd`);
  if (!fds.ok) {
    if (cannotRead(fds.code)) return 'unknown';
    // Gone (or a zombie, whose descriptors are closed); or hidden by hidepid while it runs.
    return processRunning(pid) ? 'unknown' : 'not';
  }
  let twin = false;
  let unreadable = false;
  for (const fd of fds.value) {
    const info = yield* text(`/proc/${pid}/fdinfo/${fd}`);
    if (!info.ok) {
      unreadable ||= cannotRead(info.code); // else closed since the listing
      continue;
    }
    // Only a descriptor with a flock listed under the file's key can be the one: the others'
    // files are never looked at, so a descriptor of a hung network mount costs nothing.
    const locks = fdinfoLocks(info.value).filter(
      (lock) => lock.lockClass === 'FLOCK' && !lock.blocked && file.keys.includes(lock.key),
    );
    if (locks.length === 0) continue;
    const target = yield* identity(`/proc/${pid}/fd/${fd}`);
    if (!target.ok) {
      unreadable ||= cannotRead(target.code);
      continue;
    }
    if (target.value.dev === file.dev && target.value.ino === file.ino) {
      if (locks.some((lock) => lock.exclusive)) return 'holds';
    } else {
      twin = true;
    }
  }
  if (unreadable) return 'unknown';
  return twin ? 'twin' : 'not';
}

/** A process found holding the lock by a scan, with its parent. */
export interface FoundHolder {
  pid: number;
  ppid: number | null;
}

export interface Scan {
  holders: FoundHolder[];
  /** How many processes could not be looked at (another user's, when this one is not root). */
  unreadable: number;
}

function* parentOf(pid: number): ProcSteps<number | null> {
  const status = yield* text(`/proc/${pid}/status`);
  const match = status.ok ? /^PPid:\s*(\d+)$/m.exec(status.value) : null;
  return match?.[1] === undefined ? null : Number(match[1]);
}

/**
 * Every process (but this one) proven to hold the lock on `file`, found by looking at the
 * descriptors of every process in /proc: what `stop` does when neither the file's PID nor the
 * kernel's record holds it. Costs a read per descriptor on the machine.
 */
export function* scanHolders(file: LockedFile): ProcSteps<Scan> {
  const entries = yield* list('/proc');
  const scan: Scan = { holders: [], unreadable: 0 };
  if (!entries.ok) return scan;
  for (const entry of entries.value) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const check = yield* checkHolder(pid, file);
    if (check === 'holds') scan.holders.push({ pid, ppid: yield* parentOf(pid) });
    else if (check === 'unknown') scan.unreadable += 1;
  }
  return scan;
}

/**
 * The kernel lock's holder, named on the evidence kernel/holder-proof.ts accepts: where the platform
 * proves holders (Linux), by their descriptors. `listed`: the file's /proc/locks holders (null
 * when not read); `lockedOtherwise`: whether it was found locked without them (a probe, a refusal).
 */
export function kernelHolder(
  contents: PidFileContents,
  file: LockedFile | null,
  listed: readonly FlockHolder[] | null,
  lockedOtherwise: boolean | null,
): ProcSteps<NamedHolder> {
  const recordedPid = contents.kind === 'pid' ? contents.pid : null;
  const check = file !== null && holdersProvable() ? (pid: number) => checkHolder(pid, file) : null;
  return nameHolder({ recordedPid, listed, lockedOtherwise }, check, processRunning);
}
