// Taking the PID file as the stale-PID fallback's lock: place a draft where nothing is, judge a
// file in the way, and take over a stale one under its claim; wait by polling.
import path from 'node:path';
import { abortReason, LockedError } from '../errors';
import { claimVersion, dropClaim } from './claim';
import { createExclusive, link, look, rename, unlinkQuietly, writeDraft, type Draft } from './fs';
import { StalePidHolding, placedVersion } from './holding';
import { judgeIn, usable, versionOf, type Found } from './judge';
import { removeLeftovers } from './leftovers';
import { privateName, sameVersion, type Version } from './names';
import { realWorld, type World } from './world';
import { EMPTY_GRACE_MS, type Verdict } from './verdict';
import type { Logger } from '../logger';
import { formatPid } from '../file/pid-text';
import type { PidFileLook } from '../file/read';
import type { Steps } from '../util/steps';

/** Polling, the one way to wait without a kernel lock: from this interval, doubling up to the next. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;
/** A settling file (empty and young), or a version being changed under a claim, is looked at again this often. */
const SETTLE_POLL_MS = 10;
/** Past this, settling is contention: twice the grace an empty file gets. */
const SETTLE_LIMIT_MS = 2 * EMPTY_GRACE_MS;
/** Times in a row the file may change under us before we call it contention. */
const MAX_CHURN = 64;

type Attempt =
  | { kind: 'held'; version: Version }
  | { kind: 'busy'; pid: number | null }
  | { kind: 'settling' }
  | { kind: 'changed' };

const CHANGED: Attempt = { kind: 'changed' };
const SETTLING: Attempt = { kind: 'settling' };

/** Whether what a look found is `version`. */
function isVersion(seen: PidFileLook, version: Version): boolean {
  const { contents, stat } = seen;
  if (
    contents.kind === 'missing' ||
    stat === null ||
    !stat.isFile() ||
    contents.dev === null ||
    contents.mtimeMs === null
  )
    return false;
  return sameVersion(versionOf({ ...contents, dev: contents.dev, mtimeMs: contents.mtimeMs }), version);
}

/**
 * Puts the draft at `file` if nothing is there, and returns the version placed; null when
 * something is there (or, under churn, seemed to be). Linked, the PID file is the draft's file.
 */
function* place(draft: Draft, file: string, text: string, pid: number): Steps<Version | null> {
  const made = yield* link(draft.path, file, file);
  if (made === 'made') return { dev: draft.dev, mtimeMs: draft.mtimeMs, holds: pid };
  if (made !== 'no-links' || (yield* createExclusive(file, text, file)) !== 'made') return null;
  return yield* placedVersion(file, pid);
}

/**
 * A file moved aside that is not the version claimed (replaced behind the protocol's back between
 * our look and our rename) goes back where it was; if something has filled the path meanwhile, it
 * is left where it is, with a warning: it is not ours to remove.
 */
function* putBack(tombstone: string, file: string, logger: Logger): Steps<void> {
  if ((yield* link(tombstone, file, file)) === 'made') {
    yield* unlinkQuietly(tombstone);
    return;
  }
  logger.warn(
    `${file} was replaced while this process was taking it over; the file it moved aside is left at ${tombstone}`,
  );
}

/**
 * Replaces a stale version of the PID file with the draft, under that version's claim. The file
 * is moved aside to a private name, checked to be the version claimed, removed, and the draft is
 * linked into the empty path, where a newcomer may have been first (the path was free: it won).
 * Never a rename over the path, which would replace whatever a newcomer had put there.
 */
function* takeOver(
  file: string,
  draft: Draft,
  text: string,
  found: Found,
  why: string,
  logger: Logger,
  world: World,
): Steps<Attempt> {
  const version = versionOf(found);
  const claim = yield* claimVersion(file, version, draft.path, text, draft.clockOffsetMs, world);
  if (claim.kind === 'busy') return SETTLING; // another process is changing this version now
  if (claim.kind === 'vanished') return CHANGED;
  let gone = true;
  let placed: Version | null;
  try {
    // Nobody else changes this version while we hold its claim: is it still the one at the path?
    if (!isVersion(yield* look(file, file), version)) return CHANGED;
    const tombstone = privateName(file, world);
    if (!(yield* rename(file, tombstone, file))) return CHANGED;
    if (!isVersion(yield* look(tombstone, file), version)) {
      yield* putBack(tombstone, file, logger);
      return CHANGED;
    }
    yield* unlinkQuietly(tombstone);
    placed = yield* place(draft, file, text, world.pid);
    if (placed === null) return CHANGED;
  } catch (error) {
    gone = false; // not known: the claims passed over stay
    throw error;
  } finally {
    yield* dropClaim(file, version, claim, gone);
  }
  logger.info(`took over ${file}: ${why}`);
  yield* removeLeftovers(file, placed, draft.clockOffsetMs, logger, world); // a takeover follows a death, which may have left some
  return { kind: 'held', version: placed };
}

/**
 * The verdict on the PID file found at `file`, as judgeIn gives it, but for a file naming this
 * very process: a PID names the process, not the thread, so such a file is held only while some
 * thread of this process has a hold on it other than the one asking (`world.holdsOn`, which
 * counts the asker's own). Else it was left by a worker that was terminated holding it, or by a
 * release that could not remove it: stale, or the process would be refused for as long as it lives.
 */
function judgeFound(file: string, found: Found, clockOffsetMs: number, world: World): Verdict {
  const verdict = judgeIn(world, found, clockOffsetMs);
  if (verdict.kind !== 'held' || verdict.pid !== world.pid || world.holdsOn(file) > 1) return verdict;
  return { kind: 'stale', why: `it names this process (PID ${world.pid}), and none of its threads holds it any more` };
}

/**
 * A look before writing anything: a file whose holder is alive (or that is settling) refuses us
 * as it is, so a refused attempt need not create and remove a draft, which on NFS costs round
 * trips. Needs the directory's clock offset from an earlier draft; null when a draft is needed.
 */
function* quickRefusal(file: string, world: World): Steps<Attempt | null> {
  const offset = world.clockOffsets.get(path.dirname(file));
  if (offset === undefined) return null;
  const found = usable(file, yield* look(file, file), world);
  if (found === null) return null;
  const verdict = judgeFound(file, found, offset, world);
  if (verdict.kind === 'held') return { kind: 'busy', pid: verdict.pid };
  return verdict.kind === 'settling' ? SETTLING : null;
}

function* attempt(file: string, text: string, logger: Logger, world: World): Steps<Attempt> {
  const refused = yield* quickRefusal(file, world);
  if (refused !== null) return refused;
  const draft = yield* writeDraft(file, text, world);
  try {
    const placed = yield* place(draft, file, text, world.pid);
    if (placed !== null) return { kind: 'held', version: placed };
    const found = usable(file, yield* look(file, file), world);
    if (found === null) return CHANGED; // released in between
    const verdict = judgeFound(file, found, draft.clockOffsetMs, world);
    if (verdict.kind === 'held') return { kind: 'busy', pid: verdict.pid };
    if (verdict.kind === 'settling') return SETTLING;
    return yield* takeOver(file, draft, text, found, verdict.why, logger, world);
  } finally {
    yield* unlinkQuietly(draft.path); // a second name once linked, else unused
  }
}

export interface StalePidRequest {
  path: string;
  logger: Logger;
  waitMs: number;
  signal: AbortSignal | undefined;
  /** This process, its clocks and the process table; a test scheduler gives its own. */
  world?: World;
}

/** Takes the PID file at `path` as its own lock, waiting (by polling) as `waitMs` says. */
export function* takeStalePid({
  path: file,
  logger,
  waitMs,
  signal,
  world = realWorld,
}: StalePidRequest): Steps<StalePidHolding> {
  // Registered before anything is placed, so that another thread of this process never takes a
  // file of ours, named by our common PID, for one left behind (judgeFound).
  const letGo = world.hold(file);
  try {
    return yield* takeHeld(file, logger, waitMs, signal, world, letGo);
  } catch (error) {
    letGo();
    throw error;
  }
}

function* takeHeld(
  file: string,
  logger: Logger,
  waitMs: number,
  signal: AbortSignal | undefined,
  world: World,
  letGo: () => void,
): Steps<StalePidHolding> {
  const text = formatPid(world.pid);
  const deadline = world.monotonic() + waitMs;
  let pause = FIRST_POLL_MS;
  let churn = 0;
  let settlingSince: number | null = null;
  for (;;) {
    if (signal?.aborted === true) throw abortReason(signal);
    const outcome = yield* attempt(file, text, logger, world);
    switch (outcome.kind) {
      case 'held':
        logger.debug(`locked ${file} as PID ${world.pid} (pidfile mode)`);
        return new StalePidHolding(file, outcome.version, logger, world, letGo);
      case 'changed':
        churn += 1;
        if (churn >= MAX_CHURN) throw new LockedError(file, null);
        continue;
      case 'settling':
        if (settlingSince === null) {
          logger.debug(
            `${file} is settling: empty and just written (its holder is writing its PID), or being changed under a claim; waiting`,
          );
          settlingSince = world.monotonic();
        }
        // An empty file turns stale within EMPTY_GRACE_MS, and a claim is held for a few system
        // calls; only a claimer that is stuck (stopped, say) makes it last: contention, once any
        // wait is over.
        if (world.monotonic() - settlingSince > SETTLE_LIMIT_MS && world.monotonic() >= deadline)
          throw new LockedError(file, null);
        yield SETTLE_POLL_MS;
        continue;
      case 'busy':
        churn = 0;
        settlingSince = null;
        if (world.monotonic() >= deadline) {
          logger.debug(`${file} is held by PID ${outcome.pid ?? 'unknown'}`);
          throw new LockedError(file, outcome.pid);
        }
        yield Math.min(pause, Math.max(1, deadline - world.monotonic()));
        pause = Math.min(pause * 2, MAX_POLL_MS);
    }
  }
}
