// What a look at a PID file means for `status`, `stop` and `wait`: running, not running (with or
// without a file left behind), or cannot tell, and the line that says why. Pure.
import { unnamedHolder } from '../errors';
import type { LockStatus } from '../status';
import type { Look, PathKind } from './look';

/**
 * running: the lock is held. stale: nobody holds it, and a file is left (a holder that was
 * killed). absent: nobody holds it, and there is no file (or no directory for one). unknown:
 * whether it is held cannot be told: the path cannot be read, or something stands there that no
 * PID file can be (a typo in a health check must not read as "service down").
 */
export type State = 'running' | 'stale' | 'absent' | 'unknown';

export interface Verdict {
  state: State;
  /** The holder's PID to print: one proven to hold the lock (or, where nothing proves one, trusted); else null. */
  pid: number | null;
  /** What to say on stderr, a line each, without the 'pidguard: ' prefix; none for a plain answer. */
  notes: string[];
}

/**
 * The holder's PID to print and signal: one proven to hold the lock, or, where nothing proves
 * one (macOS, the BSDs, Windows; the fallback, whose file is the lock), the file's, trusted. On
 * Linux without /proc nothing proves a kernel lock's holder either, but there pidguard promises
 * proof: the file's PID, perhaps left by a killed holder and reused, is not named.
 */
export function namedHolder(found: LockStatus, platform: NodeJS.Platform = process.platform): number | null {
  if (found.holderProof === 'fd') return found.pid;
  if (found.holderProof !== 'pid-file') return null;
  return platform === 'linux' && found.mode === 'kernel' ? null : found.pid;
}

/** What is known of the holder of a locked file that has no holder to name. */
export function holderDoubt(found: LockStatus): string {
  const uncheckedPid = found.holderProof === 'proc-locks' ? found.pid : null;
  return unnamedHolder(found.path, {
    recordedPid: found.recordedPid,
    recordedPidHolds: found.recordedPidHolds,
    uncheckedPid,
  });
}

/** Why a lock found by a lock attempt, not in /proc/locks, has no holder to name. */
export function unlistedWhy(path: string): string {
  return `${path} is locked, but /proc/locks does not list it (the process that took it has ended, or is in a PID namespace this one cannot see)`;
}

const THINGS: Readonly<Record<Exclude<PathKind, 'file' | 'missing'>, string>> = {
  directory: 'a directory',
  symlink: 'a symlink',
  socket: 'a socket',
  fifo: 'a FIFO',
  device: 'a device',
  other: 'something other than a file',
};

function unknown(note: string): Verdict {
  return { state: 'unknown', pid: null, notes: [note] };
}

function running(found: LockStatus, unlisted: boolean): Verdict {
  if (unlisted)
    return { state: 'running', pid: null, notes: [`${unlistedWhy(found.path)}; its holder cannot be named`] };
  const pid = namedHolder(found);
  if (pid === null) return { state: 'running', pid, notes: [holderDoubt(found)] };
  // A PID left in the file by a killed holder, or written in another PID namespace.
  const stale = found.recordedPid !== null && found.recordedPid !== pid && found.recordedPidHolds === false;
  return {
    state: 'running',
    pid,
    notes: stale ? [`note: ${found.path} names PID ${found.recordedPid}, which does not hold the lock`] : [],
  };
}

/** What is missing, for a look at a path where there is no file: the file, or a directory on the way. */
export function missingWhat(look: Look): string {
  const dir = look.facts?.missingDir ?? null;
  return dir === null ? 'there is no such file' : `there is no directory ${dir}`;
}

/** Judges a look (see State). */
export function judge(look: Look): Verdict {
  const { path, facts, status, error } = look;
  // What stands at the path says more than the error of opening it (Windows refuses to open a
  // directory with EACCES).
  if (facts !== null && facts.kind !== 'file' && facts.kind !== 'missing') {
    const hint = facts.kind === 'symlink' ? ' (pidguard never follows one there)' : '';
    return unknown(`cannot tell whether ${path} is locked: ${THINGS[facts.kind]} stands there, not a PID file${hint}`);
  }
  if (error !== null || facts === null || status === null) {
    return unknown(`cannot tell whether ${path} is locked: ${error?.message ?? 'it could not be looked at'}`);
  }
  if (facts.kind === 'missing') {
    if (facts.notADir !== null)
      return unknown(`cannot tell whether ${path} is locked: ${facts.notADir} is not a directory`);
    return { state: 'absent', pid: null, notes: [`${path} is not locked: not running (${missingWhat(look)})`] };
  }
  if (status.locked || look.unlisted) return running(status, look.unlisted);
  // Removed between the two looks: its holder let it go.
  if (!status.exists)
    return { state: 'absent', pid: null, notes: [`${path} is not locked: not running (there is no such file)`] };
  return { state: 'stale', pid: null, notes: [`${path} is not locked: not running`] };
}

/** The exit status for `state`: 0 running, 1 not running, 4 unknown; with `lsb`, LSB's 0, 1 (a file is left), 3, 4. */
export function statusCode(state: State, lsb: boolean): number {
  switch (state) {
    case 'running':
      return 0;
    case 'stale':
      return 1;
    case 'absent':
      return lsb ? 3 : 1;
    case 'unknown':
      return 4;
  }
}
