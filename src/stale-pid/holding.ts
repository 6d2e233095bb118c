// A held stale-PID fallback lock: the PID file at its path, as long as it is the version this
// process placed there. Giving it up and recording another PID in it are changes of that version,
// made under its claim (stale-pid/claim.ts), so that they never race a takeover that misjudged it.
import path from 'node:path';
import { fsErrorFor, pathError } from '../errors';
import { claimVersion, dropClaim, type Claim } from './claim';
import { look, rename, unlink, unlinkQuietly, writeDraft, type Draft } from './fs';
import { versionOf } from './judge';
import { privateName, sameVersion, type Version } from './names';
import type { World } from './world';
import type { Holding } from '../holding';
import type { Logger } from '../logger';
import { formatPid } from '../file/pid-text';
import { runSync, type Steps } from '../util/steps';

/** Errors of a full file system or quota: no room for even a name. */
const NO_ROOM = new Set(['ENOSPC', 'EDQUOT']);

/** The version now at `file`, if it is a regular file holding `pid`; null if it is anything else. */
export function* placedVersion(file: string, pid: number): Steps<Version | null> {
  const { contents, stat } = yield* look(file, file);
  if (contents.kind !== 'pid' || contents.pid !== pid || stat === null || !stat.isFile()) return null;
  return versionOf(contents);
}

/**
 * Removes the file at `file` so that the path is free at once. On Windows a file removed while
 * another process has it open keeps its name until the last handle closes (without POSIX delete
 * semantics: FAT, SMB, Wine), and under contention some contender always has it open to read the
 * PID, so the name would never go. An open file may still be renamed: there it goes to a private
 * name first (were we to die in between, the next takeover removes it as a dead process's).
 */
function* removeNow(file: string, world: World): Steps<void> {
  if (process.platform !== 'win32') {
    yield* unlink(file, file);
    return;
  }
  const tombstone = privateName(file, world);
  if (yield* rename(file, tombstone, file)) yield* unlinkQuietly(tombstone);
}

export class StalePidHolding implements Holding {
  readonly mode = 'pidfile' as const;
  readonly #path: string;
  readonly #logger: Logger;
  readonly #world: World;
  /** The version placed at the path: its PID is the one recorded (this process's, or recordPid's). */
  #version: Version;
  /**
   * A private file holding this process's own PID, made when the PID file is to name another
   * process: a claim must name the live claimer, and a release must be able to claim on a full
   * disk, where no new file can be made. Null while the PID file names this process, whose
   * claims are the PID file itself, linked.
   */
  #reserve: string | null = null;

  /** Takes this process's hold on the file off (world.hold), once it is given up. */
  readonly #letGo: () => void;

  constructor(file: string, version: Version, logger: Logger, world: World, letGo: () => void) {
    this.#path = file;
    this.#version = version;
    this.#logger = logger;
    this.#world = world;
    this.#letGo = letGo;
  }

  /** Whether the path still names the version placed. */
  *#stillOurs(): Steps<boolean> {
    const { holds } = this.#version;
    if (typeof holds !== 'number') return false;
    const placed = yield* placedVersion(this.#path, holds);
    return placed !== null && sameVersion(placed, this.#version);
  }

  /** The file to link as this process's claim: one holding its own PID. */
  #claimSource(): string {
    return this.#reserve ?? this.#path;
  }

  #clockOffset(): number {
    return this.#world.clockOffsets.get(path.dirname(this.#path)) ?? 0;
  }

  verify(): boolean {
    return runSync(this.#stillOurs());
  }

  release(): void {
    runSync(this.releaseSteps());
  }

  /** release(), as steps. */
  *releaseSteps(): Steps<void> {
    try {
      yield* this.#removeOwnVersion();
    } catch (error) {
      throw fsErrorFor(error, this.#path);
    } finally {
      if (this.#reserve !== null) yield* unlinkQuietly(this.#reserve);
      this.#reserve = null;
      // Given up, whether or not the file could be removed: a file left naming this process is
      // then stale to its other threads and later attempts (take.ts, judgeFound).
      this.#letGo();
    }
  }

  *#removeOwnVersion(): Steps<void> {
    const file = this.#path;
    const world = this.#world;
    const version = this.#version;
    let claim: Claim;
    try {
      claim = yield* claimVersion(file, version, this.#claimSource(), formatPid(world.pid), this.#clockOffset(), world);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (!NO_ROOM.has(code)) throw error;
      if (version.holds !== world.pid) {
        // It names another process (recordPid's), which may have ended: a takeover may be
        // replacing it now, and only a claim would tell. It stays, stale once that process ends.
        throw pathError(
          code,
          `no room for a claim on the PID file, which is left in place, stale once PID ${version.holds} has ended`,
          'link',
          file,
        );
      }
      // No room for the claim's name. The file names this process, which is alive: no takeover
      // judges it stale, so nobody else is changing it, and it may go without a claim.
      this.#logger.debug(
        `no room for a claim on ${file} (${code}); removing it without one, as it names this live process`,
      );
      if (yield* this.#stillOurs()) yield* removeNow(file, world);
      return;
    }
    if (claim.kind === 'vanished') {
      this.#logger.warn(`${file} is no longer the file this process wrote; left in place`);
      return;
    }
    if (claim.kind === 'busy') {
      // A takeover judged it stale (the PID it names has ended, or seemed to) and is replacing it
      // now: it is not ours to remove under that process, and is stale once this one ends.
      this.#logger.warn(`${file} is being taken over by PID ${claim.pid ?? 'unknown'}; left in place`);
      return;
    }
    let gone = false;
    try {
      if (!(yield* this.#stillOurs())) {
        this.#logger.warn(`${file} is no longer the file this process wrote; left in place`);
        gone = true;
        return;
      }
      yield* removeNow(file, world);
      gone = true;
    } finally {
      yield* dropClaim(file, version, claim, gone);
    }
  }

  recordPid(pid: number): void {
    runSync(this.recordSteps(pid));
  }

  /** recordPid(), as steps. */
  *recordSteps(pid: number): Steps<void> {
    const file = this.#path;
    const world = this.#world;
    try {
      if (pid !== world.pid && this.#reserve === null)
        this.#reserve = (yield* writeDraft(file, formatPid(world.pid), world)).path;
      const draft = yield* writeDraft(file, formatPid(pid), world);
      try {
        yield* this.#replaceOwnVersion(draft, pid);
      } finally {
        yield* unlinkQuietly(draft.path);
      }
    } catch (error) {
      throw fsErrorFor(error, file);
    }
  }

  *#replaceOwnVersion(draft: Draft, pid: number): Steps<void> {
    const file = this.#path;
    const world = this.#world;
    const version = this.#version;
    const claim = yield* claimVersion(
      file,
      version,
      this.#claimSource(),
      formatPid(world.pid),
      this.#clockOffset(),
      world,
    );
    if (claim.kind === 'vanished')
      throw pathError('ESTALE', 'the PID file was removed or replaced by another process', 'rename', file);
    if (claim.kind === 'busy')
      throw pathError(
        'EBUSY',
        `resource busy: PID ${claim.pid ?? 'unknown'} is taking the PID file over`,
        'rename',
        file,
      );
    let gone = false;
    try {
      if (!(yield* this.#stillOurs()))
        throw pathError('ESTALE', 'the PID file was removed or replaced by another process', 'rename', file);
      // rename(2) over our own version, under its claim. Whoever else changes the path changes
      // the version there under that version's claim, which is ours now: nobody removes or
      // replaces it meanwhile. A newcomer only links into an empty path, and rename never leaves
      // the path empty, as a removal followed by a link would (and so let a newcomer in while the
      // command runs). A taker that judged this version stale and claims it after us finds the
      // new version at the path, and looks again.
      if (!(yield* rename(draft.path, file, file)))
        throw pathError('ENOENT', 'no such file or directory', 'rename', file);
      gone = true;
      this.#version = { dev: draft.dev, mtimeMs: draft.mtimeMs, holds: pid }; // renamed, the PID file is the draft's file
    } finally {
      yield* dropClaim(file, version, claim, gone);
    }
  }

  descriptor(): null {
    return null; // nothing to inherit: the file and the live PID in it are the lock
  }

  keepAtExit(): void {
    // Only JavaScript gives this lock up at exit, and PidLock already leaves it alone when asked.
  }
}
