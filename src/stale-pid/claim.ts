// Claims: the stale-PID fallback's exclusion. Every change a process makes to the PID file (a
// takeover replacing a stale version, a release removing its own, recordPid rewriting its own) is
// made under the claim of the version it changes: a file holding the claimer's own PID, linked
// to a name that only that version has (stale-pid/names.ts), which link(2) lets one process make.
//
// A claim names a live claimer or a dead one, never by time: a claimer that died leaves its claim,
// and the next process claims the next level instead, so two live processes never hold claims on
// one version. A claim that another user made (or could write) is not a claim of ours: it is
// passed over the same way, never trusted and never removed. Claims a process passed over are
// removed once the version they are on is gone from the path, when nobody can act on them.
import { pathError } from '../errors';
import { createExclusive, link, look, unlinkQuietly } from './fs';
import { distrustIn, judgeIn } from './judge';
import { claimPath, type Version } from './names';
import type { World } from './world';
import type { Steps } from '../util/steps';

/** Claims of ours passed over (claimers that died) before giving up. */
const MAX_LEVELS = 64;
/**
 * Names passed over because another user made them: they say nothing of our claimers, so they do
 * not count against MAX_LEVELS, but a bound keeps a directory stuffed with them from being walked
 * forever (each costs its planter a file).
 */
const MAX_FOREIGN = 10_000;
/** Times a claim may vanish between our link and our look before we call it contention. */
const MAX_VANISHED = 4;

export type Claim =
  /** Ours, at `level`; `passed`: the claims of dead claimers below it, to remove with it once the version is gone. */
  | { kind: 'claimed'; level: number; passed: string[] }
  /** A live process holds the claim: it is changing this version now. */
  | { kind: 'busy'; pid: number | null }
  /** `source` is gone: for a release, the PID file itself. */
  | { kind: 'vanished' };

/**
 * Claims `version` of `file` by linking `source` (a file of ours holding `text`, this process's
 * PID) to the claim's name; where there are no hard links, by creating it with `text`.
 * `clockOffsetMs` is this process's estimate of the file system's clock, for judging claims.
 */
export function* claimVersion(
  file: string,
  version: Version,
  source: string,
  text: string,
  clockOffsetMs: number,
  world: World,
): Steps<Claim> {
  const passed: string[] = [];
  let vanished = 0;
  let foreign = 0;
  for (let level = 1; passed.length < MAX_LEVELS && foreign < MAX_FOREIGN; level += 1) {
    const name = claimPath(file, version, level);
    let made = yield* link(source, name, file);
    if (made === 'no-links') made = yield* createExclusive(name, text, file);
    if (made === 'made') return { kind: 'claimed', level, passed };
    if (made === 'vanished') return { kind: 'vanished' };
    const seen = yield* look(name, file);
    if (seen.contents.kind === 'missing') {
      // Dropped by a claimer that finished between our link and our look: try that level again.
      vanished += 1;
      if (vanished > MAX_VANISHED) return { kind: 'busy', pid: null };
      level -= 1;
      continue;
    }
    // Not a file any claimer makes, or another user's: passed over, neither trusted nor removed.
    if (seen.stat === null || !seen.stat.isFile() || distrustIn(seen.stat, world) !== null) {
      foreign += 1;
      continue;
    }
    const verdict = judgeIn(world, seen.contents, clockOffsetMs);
    if (verdict.kind === 'held') return { kind: 'busy', pid: verdict.pid };
    if (verdict.kind === 'settling') return { kind: 'busy', pid: null }; // a claim being written where there are no links
    passed.push(name);
  }
  throw pathError(
    'EPERM',
    `operation not permitted: ${passed.length + foreign} claims on the same version of the PID file are in the way ` +
      "(other users' files, or left by processes that died); remove the .claim. files beside it",
    'link',
    file,
  );
}

/**
 * Gives a claim up. With `versionGone` (the claimed version is no longer at the path: replaced or
 * removed under the claim) the dead claimers' claims passed over go too: nobody can act on them.
 */
export function* dropClaim(
  file: string,
  version: Version,
  claim: Extract<Claim, { kind: 'claimed' }>,
  versionGone: boolean,
): Steps<void> {
  yield* unlinkQuietly(claimPath(file, version, claim.level));
  if (versionGone) for (const name of claim.passed) yield* unlinkQuietly(name);
}
