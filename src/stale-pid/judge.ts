// What the stale-PID fallback makes of a file it finds at the PID file's path or a claim's: whether
// it may be used at all (a regular file, written by someone it may trust), which version of the
// PID file it is, and whether the process it names is alive (stale-pid/verdict.ts).
import { pathError } from '../errors';
import type { Version } from './names';
import type { World } from './world';
import { judge, type Verdict } from './verdict';
import type { FileFacts, PidFileContents, PidFileLook } from '../file/read';
import { distrust, distrustDescription, type Distrust } from '../file/trust';

/** Contents read from an open regular file, with its identity. */
export type Found = Exclude<PidFileContents, { kind: 'missing' }> & { dev: bigint; mtimeMs: number };

export function versionOf(found: Found): Version {
  return { dev: found.dev, mtimeMs: found.mtimeMs, holds: found.kind === 'pid' ? found.pid : found.kind };
}

/**
 * Why the file of `stat` may not be trusted by this process, or null when it may. Its own files
 * have two names for a moment while placed (a draft linked into place, a claim linked to the PID
 * file), so the number of links is not held against them.
 */
export function distrustIn(stat: FileFacts, world: World): Distrust | null {
  const self = world.credentials();
  if (self === null) return null; // no owners to compare (Windows)
  return distrust(
    { uid: Number(stat.uid), gid: Number(stat.gid), mode: Number(stat.mode), nlink: Number(stat.nlink) },
    self,
    false,
  );
}

/**
 * The PID file found at `file`, or null when there is none. Refuses, with the path, what is never
 * replaced nor removed: a symlink (its target must survive), a directory, a FIFO or device; and a
 * file another user could have written (EPERM, with the words of file/trust.ts), whose PID is never
 * trusted, so never judged stale and replaced either: in a directory such as /tmp it may be
 * removed only by its owner, and had we the right to replace it, doing so would hide the plant.
 */
export function usable(file: string, seen: PidFileLook, world: World): Found | null {
  const { contents, stat } = seen;
  if (seen.refused === 'ELOOP') throw pathError('ELOOP', 'too many symbolic links encountered', 'open', file);
  if (seen.refused === 'EISDIR' || stat?.isDirectory() === true)
    throw pathError('EISDIR', 'illegal operation on a directory', 'open', file);
  if (contents.kind === 'missing') return null;
  if (stat === null || !stat.isFile() || contents.dev === null || contents.mtimeMs === null) {
    throw pathError('EINVAL', 'not a regular file', 'open', file);
  }
  const reason = distrustIn(stat, world);
  if (reason !== null) {
    const self = world.credentials() ?? { uid: -1, gid: -1 };
    throw pathError('EPERM', distrustDescription(reason, self), 'open', file);
  }
  return { ...contents, dev: contents.dev, mtimeMs: contents.mtimeMs };
}

/** The verdict on a file, by this process's reckoning of the file system's clock (`clockOffsetMs`). */
export function judgeIn(
  world: World,
  contents: Exclude<PidFileContents, { kind: 'missing' }>,
  clockOffsetMs: number,
): Verdict {
  const holder = contents.kind === 'pid' ? world.processFacts(contents.pid) : null;
  return judge({ contents, holder, clockOffsetMs, nowMs: world.now() });
}
