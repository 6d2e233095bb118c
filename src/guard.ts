// The short-lived guard around the fallback's check-and-replace: proper-lockfile's lock, a
// directory made with mkdir(2) beside the PID file, which every file system makes atomically,
// NFS included. It is never the lock itself: it is held for a few system calls at a time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as ProperLockfile from 'proper-lockfile';
import { fsErrorFor, LockedError } from './errors';
import type { World } from './fallback-world';
import type { Logger } from './logger';
import { fsStep, type Steps } from './steps';

/**
 * A guard older than this was left by a process that died holding it, and is broken. Long, so
 * that a guard holder merely descheduled in its few system calls is never taken for dead.
 */
export const GUARD_STALE_MS = 10_000;
/** How long to try for the guard: past GUARD_STALE_MS, so that a dead holder's guard is broken first. */
const GUARD_WAIT_MS = GUARD_STALE_MS + 5_000;
const GUARD_POLL_MS = 2;

export type ReleaseGuard = () => void;

let properLockfile: typeof ProperLockfile | undefined;

/**
 * proper-lockfile, loaded on first use: it brings graceful-fs, which patches fs and costs about
 * as much to load as the rest of pidguard, and only the fallback needs it.
 */
function guardLibrary(): typeof ProperLockfile {
  properLockfile ??= require('proper-lockfile') as typeof ProperLockfile;
  return properLockfile;
}

/** Where the guard of `file` lives: proper-lockfile's default, `<file>.lock`. */
export const guardPath = (file: string): string => `${file}.lock`;

let removals = 0;

/**
 * On Windows, the file system calls proper-lockfile makes, but with a guard directory renamed away
 * before it is removed. Windows keeps a removed directory's name while any process has it open,
 * and contenders keep opening it (proper-lockfile stats a guard to see whether it is stale), so
 * under contention the name never went: under Wine, 16 processes then waited out the guard's
 * whole wait and gave up naming nobody. A directory that is open may still be renamed.
 */
function windowsGuardFs(): typeof fs {
  return {
    ...fs,
    rmdirSync(dir: fs.PathLike): void {
      removals += 1;
      const gone = path.join(path.dirname(String(dir)), `.${path.basename(String(dir))}.${os.hostname()}.${process.pid}.${removals}.gone`);
      fs.renameSync(dir, gone);
      fs.rmdirSync(gone);
    },
  };
}

/** The fs proper-lockfile uses: its default (graceful-fs) but on Windows. */
let guardFs: typeof fs | undefined;

function tryGuard(file: string, logger: Logger): ReleaseGuard | null {
  if (process.platform === 'win32') guardFs ??= windowsGuardFs();
  try {
    return guardLibrary().lockSync(file, {
      realpath: false,
      stale: GUARD_STALE_MS,
      ...(guardFs === undefined ? {} : { fs: guardFs }),
      // Held for microseconds; if it ever outlives its refresh, say so rather than throw from a timer.
      onCompromised: (error) => logger.warn(`the guard of ${file} was compromised: ${error.message}`),
    });
  } catch (error) {
    const { code, syscall } = error as NodeJS.ErrnoException;
    if (code === 'ELOCKED') return null;
    // proper-lockfile breaks a stale guard with stat, rmdir and mkdir, which two processes can
    // interleave: one's fresh guard is then removed under it, and its next call on it (stat,
    // utimes) fails. The guard is not ours: try again. ENOENT from mkdir itself means the
    // directory is missing, which is the caller's error. (The version claim in pidfile-lock.ts
    // keeps takeovers exclusive even when both believe they hold the guard.)
    if (code === 'ENOENT' && syscall !== 'mkdir') return null;
    throw fsErrorFor(error, guardPath(file));
  }
}

/** Takes the guard of `file`, trying for at most `waitMs`; null when another kept it that long. */
export function* takeGuard(file: string, logger: Logger, world: World, waitMs: number = GUARD_WAIT_MS): Steps<ReleaseGuard | null> {
  const deadline = world.monotonic() + waitMs;
  for (;;) {
    yield fsStep('guard', guardPath(file));
    const release = tryGuard(file, logger);
    if (release !== null) return release;
    if (world.monotonic() >= deadline) return null;
    yield GUARD_POLL_MS;
  }
}

/** takeGuard, failing with LockedError when the guard cannot be had. */
export function* requireGuard(file: string, logger: Logger, world: World): Steps<ReleaseGuard> {
  const release = yield* takeGuard(file, logger, world);
  if (release === null) throw new LockedError(file, null);
  return release;
}

/** Gives the guard back; a failure (the directory already gone) changes nothing for the caller. */
export function* dropGuard(release: ReleaseGuard, file: string, logger: Logger): Steps<void> {
  yield fsStep('unguard', guardPath(file));
  try {
    release();
  } catch (error) {
    logger.warn(`could not remove the guard ${guardPath(file)}: ${(error as Error).message}`);
  }
}
