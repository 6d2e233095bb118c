// Whom `stop` signals: the proven holder of the lock, or, when that holder is a `pidguard run`
// wrapper, the command it runs (Linux, where holders are proven by their descriptors).
//
// A wrapper forwards the signals it can catch, but not SIGKILL: a schedule's KILL sent to the
// wrapper would leave the command running, holding the lock it inherited (or, with --no-inherit,
// running on with the lock freed). So the command is signalled itself when it is known to be the
// wrapper's: a child of the holder started with PIDGUARD_RUN_PID naming the holder in its
// environment, which only `pidguard run` sets, and which is either the child the file names (the
// wrapper recorded its command: --no-inherit, or the path taken again after it was removed) or
// the holder's one such child holding the lock (--pid self). Any other child the file names is
// not the holder's command but a process the holder recorded, which may hold nothing: the holder
// is signalled. A holder started by a wrapper itself is a command, and is signalled (so is a
// pidguard run started by another one's command). A child's PID cannot be another process's while
// its parent, the proven holder, has not reaped it.
import fs from 'node:fs';
import { familyHead } from '../kernel/holder-proof';
import { lockedFile, type LockedFile } from '../kernel/locks';
import { checkHolder, holdersProvable, scanHolders } from '../kernel/holders';
import { runProcSync } from '../process/proc-io';
import { processRunning } from '../process/info';
import { readPidFileSync } from '../file/read';
import { mountDeviceOf } from '../kernel/mount-device';
import type { LockStatus } from '../status';

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return null; // gone, or not ours to read
  }
}

/**
 * The parent of process `pid`, from /proc/<pid>/status; null when it cannot be read, or when `pid`
 * is a thread other than its process's main one (its ID is not the process's).
 */
function parentOf(pid: number): number | null {
  const status = readText(`/proc/${pid}/status`) ?? '';
  const tgid = /^Tgid:\s*(\d+)$/m.exec(status)?.[1];
  const ppid = /^PPid:\s*(\d+)$/m.exec(status)?.[1];
  return tgid === undefined || Number(tgid) !== pid || ppid === undefined ? null : Number(ppid);
}

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  return names
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => parentOf(child) === pid);
}

/** The PID of the `pidguard run` that started process `pid` (PIDGUARD_RUN_PID in its environment), or null. */
function runnerOf(pid: number): number | null {
  const entry = (readText(`/proc/${pid}/environ`) ?? '')
    .split('\0')
    .find((line) => line.startsWith('PIDGUARD_RUN_PID='));
  const value = entry?.slice('PIDGUARD_RUN_PID='.length) ?? '';
  return /^\d+$/.test(value) ? Number(value) : null;
}

/** Whether `child` is the command of `pidguard run` wrapper `holder`: its child, started by it. */
function commandOf(holder: number, child: number): boolean {
  return parentOf(child) === holder && runnerOf(child) === holder;
}

function lockedFileAt(path: string): LockedFile | null {
  try {
    return lockedFile(readPidFileSync(path, mountDeviceOf));
  } catch {
    return null;
  }
}

/**
 * The process to signal for holder `holder` of the lock `found` describes: the command of a
 * `pidguard run` wrapper (see above), else the holder itself.
 */
export function signalTarget(found: LockStatus, holder: number): number {
  if (!holdersProvable()) return holder;
  const recorded = found.recordedPid;
  if (recorded !== null && recorded !== holder && processRunning(recorded) && commandOf(holder, recorded))
    return recorded;
  const file = lockedFileAt(found.path);
  if (file === null || runnerOf(holder) !== null) return holder;
  const commands = childrenOf(holder).filter(
    (child) => commandOf(holder, child) && runProcSync(checkHolder(child, file)) === 'holds',
  );
  return commands.length === 1 ? (commands[0] ?? holder) : holder;
}

/**
 * Where neither the file's PID nor the kernel's record is proven to hold the lock (both gone, or
 * not readable by this user), looks through every process's descriptors for the holder (Linux).
 * Of a family sharing the locked file (a command and the children it passed it to), the eldest.
 * Says what it found, or why it found nobody, on stderr.
 */
export function searchHolder(found: LockStatus, why: string): number | null {
  if (found.mode !== 'kernel' || !holdersProvable()) return null;
  const file = lockedFileAt(found.path);
  if (file === null) return null;
  const scan = runProcSync(scanHolders(file));
  const head = familyHead(scan.holders);
  if (head !== null) {
    process.stderr.write(`pidguard: ${why}; found PID ${head} holding it by looking through /proc/*/fd\n`);
  } else if (scan.holders.length > 1) {
    process.stderr.write(
      `pidguard: ${found.path} is held by PIDs ${scan.holders.map((holder) => holder.pid).join(', ')}, none of them the parent of the others\n`,
    );
  }
  return head;
}
