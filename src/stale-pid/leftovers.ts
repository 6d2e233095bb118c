// What processes that died left beside a PID file, removed by the next takeover (which follows a
// death): drafts and tombstones (private names of this host, naming a dead PID), and claims on
// versions of the PID file that are gone, made by claimers now dead. Only this user's files:
// another user's are never removed, nor anything of a live process or of another host.
import path from 'node:path';
import { look, lstat, readdir, unlinkQuietly } from './fs';
import { judgeIn } from './judge';
import { isClaimOnOtherVersion, privateNameOwner, type Version } from './names';
import type { World } from './world';
import type { FileFacts } from '../file/read';
import type { Logger } from '../logger';
import type { Steps } from '../util/steps';

function ownedBySelf(stat: FileFacts, world: World): boolean {
  const self = world.credentials();
  return self === null || Number(stat.uid) === self.uid;
}

/**
 * Removes the leftovers of dead processes beside `file`, whose version now at the path is
 * `current`. Best effort, one entry at a time: it runs after a takeover has placed its file, and
 * a name it cannot look at (another user's, unreadable) must never undo that.
 */
export function* removeLeftovers(
  file: string,
  current: Version,
  clockOffsetMs: number,
  logger: Logger,
  world: World,
): Steps<void> {
  const dir = path.dirname(file);
  let names: string[];
  try {
    names = yield* readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      yield* removeIfLeftover(file, path.join(dir, name), name, current, clockOffsetMs, logger, world);
    } catch (error) {
      logger.debug(`left ${name} beside ${file}: ${(error as Error).message}`);
    }
  }
}

function* removeIfLeftover(
  file: string,
  at: string,
  name: string,
  current: Version,
  clockOffsetMs: number,
  logger: Logger,
  world: World,
): Steps<void> {
  const owner = privateNameOwner(file, name, world);
  if (owner !== null) {
    if (owner === world.pid || world.processFacts(owner).exists) return;
    const stat = yield* lstat(at);
    if (stat === null || !ownedBySelf(stat, world)) return;
    yield* unlinkQuietly(at);
    logger.debug(`removed ${name}, left by PID ${owner}, which died`);
  } else if (isClaimOnOtherVersion(file, name, current)) {
    // Nobody acts on a claim of a version gone from the path (each claimer looks at the path
    // after claiming), so one whose claimer died may go.
    const seen = yield* look(at, file);
    if (seen.stat === null || !ownedBySelf(seen.stat, world) || seen.contents.kind === 'missing') return;
    if (judgeIn(world, seen.contents, clockOffsetMs).kind !== 'stale') return;
    yield* unlinkQuietly(at);
    logger.debug(`removed ${name}, a claim left by a process that died`);
  }
}
