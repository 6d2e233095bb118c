// The stale-PID fallback's file-system calls: each is a step announced just before it is made
// (util/steps.ts), so that a test scheduler can pause there, and each error is restated for the PID
// file itself (`file`): the drafts, claims and tombstones beside it are the fallback's business.
import fs from 'node:fs';
import path from 'node:path';
import { fsErrorFor } from '../errors';
import { privateName } from './names';
import type { World } from './world';
import { lookAtPidFileSync, type PidFileLook } from '../file/read';
import { fsStep, type Steps } from '../util/steps';

const NOFOLLOW: number | undefined = fs.constants.O_NOFOLLOW;
const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (NOFOLLOW ?? 0);

/** link(2) refused by the file system itself (no hard links there): create exclusively instead. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EXDEV']);
/** The file is not there (any more): on FUSE and NFS also a file replaced under the call. */
const VANISHED = new Set(['ENOENT', 'ESTALE']);
/** Draws of a new private name when the last one was taken, before giving up. */
const NAME_DRAWS = 16;

const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? '';

const MISSING: PidFileLook = { contents: { kind: 'missing' }, stat: null, refused: null };

/**
 * Reads the file at `at` (the PID file, a claim, a tombstone) with its stat. Where there is no
 * O_NOFOLLOW (Windows), an lstat first tells a link at the path, which is never read through.
 */
export function* look(at: string, file: string): Steps<PidFileLook> {
  if (NOFOLLOW === undefined) {
    yield fsStep('lstat', at);
    let stat: fs.BigIntStats;
    try {
      stat = fs.lstatSync(at, { bigint: true });
    } catch (error) {
      if (VANISHED.has(codeOf(error))) return MISSING;
      throw fsErrorFor(error, file);
    }
    if (stat.isSymbolicLink())
      return {
        contents: { kind: 'other', dev: null, ino: null, mtimeMs: null, mountDevice: null },
        stat: null,
        refused: 'ELOOP',
      };
  }
  yield fsStep('read', at);
  try {
    return lookAtPidFileSync(at);
  } catch (error) {
    const code = codeOf(error);
    // A socket at the path cannot be opened at all: it is no more a PID file than a FIFO is.
    if (code === 'ENXIO')
      return {
        contents: { kind: 'other', dev: null, ino: null, mtimeMs: null, mountDevice: null },
        stat: null,
        refused: null,
      };
    // A file this process may not read (another user's, mode 0600, planted at a claim's name):
    // seen by its stat alone, so that the caller can tell whose it is and pass it over.
    if (code === 'EACCES' || code === 'EPERM') {
      const stat = yield* lstat(at);
      if (stat === null) return MISSING;
      return {
        contents: {
          kind: 'other',
          dev: stat.dev,
          ino: stat.ino,
          mtimeMs: Number(stat.mtimeNs) / 1e6,
          mountDevice: null,
        },
        stat,
        refused: null,
      };
    }
    throw fsErrorFor(error, file);
  }
}

/** What became of a new name: made; taken (something is there); the source vanished; or no hard links here. */
export type Made = 'made' | 'taken' | 'vanished' | 'no-links';

/** link(2): gives `from` the new name `to`, which fails when `to` exists. */
export function* link(from: string, to: string, file: string): Steps<Made> {
  yield fsStep('link', from, to);
  try {
    fs.linkSync(from, to);
    return 'made';
  } catch (error) {
    const code = codeOf(error);
    if (code === 'EEXIST') return 'taken';
    if (VANISHED.has(code)) return 'vanished';
    if (NO_HARD_LINKS.has(code)) return 'no-links';
    throw fsErrorFor(error, file);
  }
}

/**
 * Where the file system has no hard links: creates `at` exclusively and writes `text`. It is
 * empty for the moment between the two, which others judge as settling (EMPTY_GRACE_MS).
 */
export function* createExclusive(at: string, text: string, file: string): Steps<'made' | 'taken'> {
  yield fsStep('create', at);
  let fd: number;
  try {
    fd = fs.openSync(at, CREATE_FLAGS, 0o644);
  } catch (error) {
    // ENOENT: the directory exists (our draft was written there), so this is the file system
    // losing a race between this create and another process's (seen on the FUSE test file
    // system, in a 16-process storm): something was there; the caller looks again.
    if (codeOf(error) === 'EEXIST' || VANISHED.has(codeOf(error))) return 'taken';
    throw fsErrorFor(error, file);
  }
  try {
    fs.writeSync(fd, text);
    fs.closeSync(fd);
    return 'made';
  } catch (error) {
    fs.closeSync(fd);
    yield* unlinkQuietly(at); // ours, and holding no PID: never leave it behind
    throw fsErrorFor(error, file);
  }
}

/** A file written in full under a private name beside the PID file. */
export interface Draft {
  path: string;
  /** The file system's clock less ours, measured on this file: an NFS server keeps its own time. */
  clockOffsetMs: number;
  /** Its device and mtime: once linked into place, those of the PID file. */
  dev: bigint;
  mtimeMs: number;
}

/** Writes `text` to a new private file beside `file`, drawing another name when one is taken. */
export function* writeDraft(file: string, text: string, world: World): Steps<Draft> {
  for (let draw = 1; ; draw += 1) {
    const draft = privateName(file, world);
    const before = world.now();
    yield fsStep('create', draft);
    let fd: number;
    try {
      fd = fs.openSync(draft, CREATE_FLAGS, 0o644);
    } catch (error) {
      // Taken: planted by someone who guessed it, or drawn twice against all odds. Never adopted.
      if (codeOf(error) === 'EEXIST' && draw < NAME_DRAWS) continue;
      throw fsErrorFor(error, file);
    }
    try {
      fs.writeSync(fd, text);
      const stat = fs.fstatSync(fd, { bigint: true });
      const mtimeMs = Number(stat.mtimeNs) / 1e6;
      const clockOffsetMs = mtimeMs - (before + world.now()) / 2;
      world.clockOffsets.set(path.dirname(file), clockOffsetMs);
      fs.closeSync(fd);
      return { path: draft, clockOffsetMs, dev: stat.dev, mtimeMs };
    } catch (error) {
      fs.closeSync(fd);
      yield* unlinkQuietly(draft);
      throw fsErrorFor(error, file);
    }
  }
}

/** rename(2): true, or false when `from` has vanished. Replaces whatever is at `to`: only for names of our own. */
export function* rename(from: string, to: string, file: string): Steps<boolean> {
  yield fsStep('rename', from, to);
  try {
    fs.renameSync(from, to);
    return true;
  } catch (error) {
    if (VANISHED.has(codeOf(error))) return false;
    throw fsErrorFor(error, file);
  }
}

/** unlink(2): true, or false when it was gone already. */
export function* unlink(at: string, file: string): Steps<boolean> {
  yield fsStep('unlink', at);
  try {
    fs.unlinkSync(at);
    return true;
  } catch (error) {
    if (VANISHED.has(codeOf(error))) return false;
    throw fsErrorFor(error, file);
  }
}

/** unlink(2) of a file of our own that may be gone already, or that nothing more can be done about. */
export function* unlinkQuietly(at: string): Steps<void> {
  yield fsStep('unlink', at);
  try {
    fs.unlinkSync(at);
  } catch {
    // gone already (linked into place and then removed, renamed), or nothing more to do
  }
}

/** lstat(2) of a file beside the PID file; null when it is gone or cannot be looked at. */
export function* lstat(at: string): Steps<fs.BigIntStats | null> {
  yield fsStep('lstat', at);
  try {
    return fs.lstatSync(at, { bigint: true });
  } catch {
    return null;
  }
}

/** The names in `dir`; none when it cannot be read. */
export function* readdir(dir: string): Steps<string[]> {
  yield fsStep('readdir', dir);
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
