// The stale-PID fallback: where no kernel lock is to be had, the PID file is its own lock.
//
// Taking it (stale-pid/take.ts): write "<pid>\n" to a new file beside it under a private name, then
// link(2) that file to the PID file's name, which fails if the name exists: the PID file appears
// whole, with its PID, or not at all (link is also the create that NFS has always made atomic).
// A file in the way is judged (stale-pid/verdict.ts); a stale one is taken over.
//
// Every change of the path by a process, once a version of the PID file is there, is made under
// that version's claim (stale-pid/claim.ts), which one live process at a time can hold: a takeover
// claims the stale version, moves it aside, checks it, removes it and links its draft into the
// empty path (a newcomer may fill it first: then it lost); a release claims its own version and
// removes it; recordPid claims its own version and replaces it with rename(2). Nothing ever
// renames over a path that another process may have filled, and no release removes a file while
// another live process is changing it.
//
// Every file-system call is a step of a generator (util/steps.ts), announced just before it is made,
// and what is not the file system (this process's PID, the clocks, the process table) comes from
// a World (stale-pid/world.ts): torture/interleavings.mjs runs several instances through every
// order of their steps.
import { prepareDirectory } from '../file/path-trust';
import type { Mechanism } from '../mechanism';
import { withoutExitHook } from '../util/exit-hook';
import { runAsync, runSync } from '../util/steps';
import { StalePidHolding } from './holding';
import path from 'node:path';
import { unlinkQuietly, writeDraft } from './fs';
import { judgeIn } from './judge';
import { takeStalePid } from './take';
import { realWorld } from './world';
import type { Verdict } from './verdict';
import type { PidFileContents } from '../file/read';

export { StalePidHolding } from './holding';
export { takeStalePid, type StalePidRequest } from './take';

/**
 * The stale-PID fallback as a mechanism: for exclusive PID files only. Its steps go by path, so it
 * first refuses a directory another user could change (file/path-trust.ts). A wait blocks the
 * thread in pauses: the exit hook comes off meanwhile, as for a kernel wait.
 */
export const stalePidMechanism: Mechanism = {
  mode: 'pidfile',
  covers: (settled, kind) => kind === 'pidfile' && !settled.shared,
  take: async (settled) => {
    prepareDirectory(settled.path, settled.mkdir, true);
    return runAsync(takeStalePid(settled));
  },
  takeSync: (settled) => {
    prepareDirectory(settled.path, settled.mkdir, true);
    const take = (): StalePidHolding => runSync(takeStalePid(settled));
    return settled.waitMs > 0 ? withoutExitHook(take) : take();
  },
};

/**
 * The file system's clock less ours in the directory of `file`, as the fallback reckons it: the
 * last measure taken there, else one taken now on a private file written and removed at once
 * (an NFS server keeps its own time, and a PID file's mtime is read on it). Null where nothing
 * can be written there: the caller cannot judge by time and must say so.
 */
export function clockOffsetFor(file: string): number | null {
  const known = realWorld.clockOffsets.get(path.dirname(file));
  if (known !== undefined) return known;
  try {
    const draft = runSync(writeDraft(file, '\n', realWorld));
    runSync(unlinkQuietly(draft.path));
    return draft.clockOffsetMs;
  } catch {
    return null;
  }
}

/** The verdict on whatever file is at the path, by this process's reckoning of the file system's clock. */
export function judgeFile(contents: Exclude<PidFileContents, { kind: 'missing' }>, clockOffsetMs: number): Verdict {
  return judgeIn(realWorld, contents, clockOffsetMs);
}
