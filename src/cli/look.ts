// Looking at a PID file for `status`, `stop` and `wait`: what stands at the path, what inspect()
// says of its lock, and what stopped the looking, as facts for verdict.ts to judge.
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from '../inspect';
import type { LockStatus } from '../status';
import { lockedUnlisted } from './free';

/** What stands at the path: a regular file, nothing, or something no PID file can be. */
export type PathKind = 'file' | 'missing' | 'directory' | 'symlink' | 'socket' | 'fifo' | 'device' | 'other';

export interface PathFacts {
  kind: PathKind;
  /** When missing: the highest directory on the way that does not exist; null when only the file is missing. */
  missingDir: string | null;
  /** When missing: a name on the way that is not a directory (ENOTDIR), if one is. */
  notADir: string | null;
}

export interface Look {
  /** The absolute path looked at. */
  path: string;
  /** What stands there; null when that could not be told (`error` says why). */
  facts: PathFacts | null;
  /** inspect()'s report; null when it could not be made (`error` says why). */
  status: LockStatus | null;
  /** What made the looking fail: EACCES on the directory, say. */
  error: Error | null;
  /** Locked, though /proc/locks does not list it (a container: see free.ts lockedUnlisted). */
  unlisted: boolean;
}

function kindOf(stat: fs.Stats): PathKind {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'directory';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isSocket()) return 'socket';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'device';
  return 'other';
}

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** Which directory on the way to a missing `file` is missing, or which name there is not a directory. */
function missingOnTheWay(file: string): PathFacts {
  let highestMissing: string | null = null;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    try {
      // Following links: a directory reached through one is a directory all the same.
      const stat = fs.statSync(dir);
      if (!stat.isDirectory()) return { kind: 'missing', missingDir: null, notADir: dir };
      return { kind: 'missing', missingDir: highestMissing, notADir: null };
    } catch (error) {
      if (code(error) !== 'ENOENT' && code(error) !== 'ENOTDIR') throw error;
      highestMissing = dir;
    }
    if (path.dirname(dir) === dir) return { kind: 'missing', missingDir: highestMissing, notADir: null };
  }
}

function pathFacts(file: string): PathFacts {
  try {
    return { kind: kindOf(fs.lstatSync(file)), missingDir: null, notADir: null };
  } catch (error) {
    if (code(error) !== 'ENOENT' && code(error) !== 'ENOTDIR') throw error;
    return missingOnTheWay(file);
  }
}

/** Looks at the PID file `pidfile`; never throws for what is at the path or cannot be read there. */
export async function lookAt(pidfile: string): Promise<Look> {
  const file = path.resolve(pidfile);
  const look: Look = { path: file, facts: null, status: null, error: null, unlisted: false };
  try {
    look.facts = pathFacts(file);
    look.status = await inspect(file);
    look.unlisted = lockedUnlisted(look.status);
  } catch (error) {
    look.error = error instanceof Error ? error : new Error(String(error));
  }
  return look;
}
