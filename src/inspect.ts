// Looking at a PID file without taking it: readPid, inspect and inspectSync, in either mode.
import fs from 'node:fs';
import { withPath } from './errors';
import { lockedFile, readFlockHolders, readFlockHoldersSync } from './kernel/locks';
import { kernelHolder } from './kernel/holders';
import { binding, isNativeError, nativePath, ProbeState } from './addon/binding';
import { checkPath, environmentMode, settleMode, type InspectOptions, type LockMode } from './options';
import { clockOffsetFor, judgeFile } from './stale-pid/lock';
import { runProcAsync, runProcSync, type ProcSteps } from './process/proc-io';
import type { FlockHolder } from './kernel/proc-locks';
import { readCommandLine, readProcessFacts } from './process/info';
import { readPidFile, readPidFileSync, type PidFileContents } from './file/read';
import { mountDeviceOf } from './kernel/mount-device';
import { describeStatus, type LockStatus, type ProcessView } from './status';
import { currentCredentials, distrust } from './file/trust';

/** The PID recorded in the file at `path`; null when there is no file or it holds no valid PID. */
export function readPid(path: string): number | null {
  const contents = readPidFileSync(checkPath(path));
  return contents.kind === 'pid' ? contents.pid : null;
}

/** Where /proc/locks cannot tell, a brief shared lock attempt does (see LockStatus.checkedBy). */
function probe(path: string): boolean {
  try {
    return binding().probe(nativePath(path)) === ProbeState.Locked;
  } catch (error) {
    throw withPath(error, path);
  }
}

/** Looks each PID up in /proc once per inspect, however often the report asks about it. */
function processLookUp(): (pid: number) => ProcessView {
  const seen = new Map<number, ProcessView>();
  return (pid) => {
    let view = seen.get(pid);
    if (view === undefined) {
      view = { facts: readProcessFacts(pid), commandLine: readCommandLine(pid) };
      seen.set(pid, view);
    }
    return view;
  };
}

function addonLoads(): boolean {
  try {
    binding();
    return true;
  } catch {
    return false;
  }
}

/**
 * Mode 'auto' looks as acquire() would lock: the kernel's lock, unless the file holds a live PID
 * without a kernel lock on a file system that refuses locks. The addon asks that with F_GETLK,
 * which takes no lock, so a concurrent acquirer is never refused. Without the addon, acquire()
 * would refuse to lock at all (ERR_PIDGUARD_NATIVE): what the kernel says is all there is.
 */
function fallbackApplies(
  mode: LockMode,
  file: string,
  contents: PidFileContents,
  kernelLocked: () => boolean,
): boolean {
  if (mode === 'pidfile') return true;
  if (mode === 'kernel' || !addonLoads()) return false;
  if (contents.kind !== 'pid' || kernelLocked() || judgeFile(contents, clockOffsetFor(file) ?? 0).kind !== 'held')
    return false;
  try {
    return !binding().locksSupported(nativePath(file));
  } catch (error) {
    // Gone, or replaced by something that cannot be opened, since it was read: not a fallback file.
    if (isNativeError(error)) return false;
    throw error;
  }
}

/** Whether the fallback would trust the file at `file` (file/trust.ts), as it takes files. */
function trusted(file: string): boolean {
  const self = currentCredentials();
  if (self === null) return true;
  try {
    const { uid, gid, mode, nlink } = fs.lstatSync(file);
    return distrust({ uid, gid, mode, nlink }, self, false) === null;
  } catch {
    return false; // gone since it was read: nothing to judge
  }
}

function* look(
  file: string,
  mode: LockMode,
  contents: PidFileContents,
  holders: FlockHolder[] | null,
): ProcSteps<LockStatus> {
  const lookUp = processLookUp();
  const identity = mode === 'pidfile' ? null : lockedFile(contents);
  const probedLocked = identity !== null && holders === null && addonLoads() ? probe(file) : null;
  const kernelLocked = (): boolean => (holders?.some((holder) => holder.exclusive) ?? false) || probedLocked === true;
  if (fallbackApplies(mode, file, contents, kernelLocked)) {
    // No verdict on no file, nor on a symlink or a directory (read as 'other' with no identity),
    // nor on a file another user could have written: the fallback never takes it, and its PID
    // may name any process at all.
    const judged = contents.kind !== 'missing' && contents.dev !== null && trusted(file);
    // Times are read on the file system's clock, which may not be ours (an NFS server's): measured
    // as the fallback measures it, or, where nothing can be written there, taken to agree.
    const verdict = judged ? judgeFile(contents, clockOffsetFor(file) ?? 0) : null;
    return describeStatus({ path: file, contents, lookUp, mode: 'pidfile', verdict });
  }
  const checkedBy = holders !== null ? 'proc-locks' : probedLocked !== null ? 'probe' : 'none';
  const holder = yield* kernelHolder(contents, identity, holders, probedLocked);
  return describeStatus({ path: file, contents, lookUp, mode: 'kernel', checkedBy, holder });
}

/** Whether the PID file at `path` is locked, and by which PID; takes no lock on Linux. */
export function inspectSync(path: string, options?: InspectOptions): LockStatus {
  const file = checkPath(path);
  const mode = settleMode(options?.mode, environmentMode());
  const contents = readPidFileSync(file, mode !== 'pidfile' ? mountDeviceOf : null);
  const identity = mode === 'pidfile' ? null : lockedFile(contents);
  const holders = identity === null ? null : readFlockHoldersSync(identity);
  return runProcSync(look(file, mode, contents, holders));
}

/**
 * inspectSync(), reading the PID file and stat()ing holders' files with non-blocking I/O, for
 * health-check endpoints (/proc itself is read at once: it never waits on a disk or a network).
 */
export async function inspect(path: string, options?: InspectOptions): Promise<LockStatus> {
  const file = checkPath(path);
  const mode = settleMode(options?.mode, environmentMode());
  const contents = await readPidFile(file, mode !== 'pidfile' ? mountDeviceOf : null);
  const identity = mode === 'pidfile' ? null : lockedFile(contents);
  const holders = identity === null ? null : await readFlockHolders(identity);
  return runProcAsync(look(file, mode, contents, holders));
}
