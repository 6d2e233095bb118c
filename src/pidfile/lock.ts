// The stale-PID fallback: where no kernel lock is to be had, the PID file is its own lock.
//
// Taking it (fallback-take.ts): write "<pid>\n" to a new file beside it under a private name, then
// link(2) that file to the PID file's name, which fails if the name exists: the PID file appears
// whole, with its PID, or not at all (link is also the create that NFS has always made atomic).
// A file in the way is judged (holder-verdict.ts); a stale one is taken over.
//
// Every change of the path by a process, once a version of the PID file is there, is made under
// that version's claim (fallback-claim.ts), which one live process at a time can hold: a takeover
// claims the stale version, moves it aside, checks it, removes it and links its draft into the
// empty path (a newcomer may fill it first: then it lost); a release claims its own version and
// removes it; recordPid claims its own version and replaces it with rename(2). Nothing ever
// renames over a path that another process may have filled, and no release removes a file while
// another live process is changing it.
//
// Every file-system call is a step of a generator (steps.ts), announced just before it is made,
// and what is not the file system (this process's PID, the clocks, the process table) comes from
// a World (fallback-world.ts): torture/interleavings.mjs runs several instances through every
// order of their steps.
import { judgeIn } from './judge';
import { realWorld } from './world';
import type { Verdict } from './verdict';
import type { PidFileContents } from '../file/read';

export { PidFileHolding } from './holding';
export { takePidFile, type PidFileRequest } from './take';

/** The verdict on whatever file is at the path, by this process's reckoning of the file system's clock. */
export function judgeFile(contents: Exclude<PidFileContents, { kind: 'missing' }>, clockOffsetMs: number): Verdict {
  return judgeIn(realWorld, contents, clockOffsetMs);
}
