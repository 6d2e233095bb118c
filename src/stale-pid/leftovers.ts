// What processes that died left beside a PID file, removed by the next takeover (which follows a
// death): drafts and tombstones (private names of this host, naming a dead PID), and claims on
// versions of the PID file that are gone, made by claimers now dead. Only this user's files:
// another user's are never removed, nor anything of a live process or of another host.
import type fs from 'node:fs';
import path from 'node:path';
import { look, lstat, readdir, unlinkQuietly } from './fs';
import { judgeIn } from './judge';
import { isClaimOnOtherVersion, privateNameOwner, type Version } from './names';
import type { World } from './world';
import type { Logger } from '../logger';
import type { Steps } from '../util/steps';

function ownedBySelf(stat: fs.BigIntStats, world: World): boolean {
  const self = world.credentials();
  return self === null || Number(stat.uid) === self.uid;
}

/** Removes the leftovers of dead processes beside `file`, whose version now at the path is `current`. */
export function* removeLeftovers(file: string, current: Version, clockOffsetMs: number, logger: Logger, world: World): Steps<void> {
  const dir = path.dirname(file);
  for (const name of yield* readdir(dir)) {
    const at = path.join(dir, name);
    const owner = privateNameOwner(file, name, world);
    if (owner !== null) {
      if (owner === world.pid || world.processFacts(owner).exists) continue;
      const stat = yield* lstat(at);
      if (stat === null || !ownedBySelf(stat, world)) continue;
      yield* unlinkQuietly(at);
      logger.debug(`removed ${name}, left by PID ${owner}, which died`);
    } else if (isClaimOnOtherVersion(file, name, current)) {
      // Nobody acts on a claim of a version gone from the path (each claimer looks at the path
      // after claiming), so one whose claimer died may go.
      const seen = yield* look(at, file);
      if (seen.stat === null || !ownedBySelf(seen.stat, world) || seen.contents.kind === 'missing') continue;
      if (judgeIn(world, seen.contents, clockOffsetMs).kind !== 'stale') continue;
      yield* unlinkQuietly(at);
      logger.debug(`removed ${name}, a claim left by a process that died`);
    }
  }
}
