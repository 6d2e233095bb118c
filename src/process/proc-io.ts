// Reading /proc one way for the sync and the async API: an algorithm is a generator that yields
// the reads it wants, and each driver does them its own way.
//
// Listings and texts of /proc are made by the kernel from memory, never waiting on a disk or a
// network, so the async driver reads them at once as well: through libuv's threadpool each
// fdinfo file of a holder costs several round trips (measured: inspect() three times slower).
// Only the identity of a descriptor's file is stat()ed asynchronously: that reaches the file's
// own file system, which may be a network mount that is slow to answer.
import fs from 'node:fs';

/** One read: a directory's names, a file's text, or the identity of the file a path names. */
export type ProcRead = { op: 'list' | 'text' | 'identity'; path: string };

/** What a file is, by stat: enough to tell whether two paths name one file. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/** A read's outcome: its value, or the error code it failed with (ENOENT, EACCES, ...). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

type Reply = Outcome<string[] | string | FileIdentity>;

export type ProcSteps<T> = Generator<ProcRead, T, Reply>;

function failed(error: unknown): { ok: false; code: string } {
  return { ok: false, code: (error as NodeJS.ErrnoException).code ?? 'EIO' };
}

/** The names in directory `path`. */
export function* list(path: string): ProcSteps<Outcome<string[]>> {
  return (yield { op: 'list', path }) as Outcome<string[]>;
}

/** The text of file `path` (latin1: /proc's text is ASCII). */
export function* text(path: string): ProcSteps<Outcome<string>> {
  return (yield { op: 'text', path }) as Outcome<string>;
}

/** The device and inode of the file `path` names, following it (a /proc/<pid>/fd/<n> link). */
export function* identity(path: string): ProcSteps<Outcome<FileIdentity>> {
  return (yield { op: 'identity', path }) as Outcome<FileIdentity>;
}

function readSync({ op, path }: ProcRead): Reply {
  try {
    if (op === 'list') return { ok: true, value: fs.readdirSync(path) };
    if (op === 'text') return { ok: true, value: fs.readFileSync(path, 'latin1') };
    const { dev, ino } = fs.statSync(path, { bigint: true });
    return { ok: true, value: { dev, ino } };
  } catch (error) {
    return failed(error);
  }
}

async function read(request: ProcRead): Promise<Reply> {
  const { op, path } = request;
  if (op !== 'identity') return readSync(request);
  try {
    const { dev, ino } = await fs.promises.stat(path, { bigint: true });
    return { ok: true, value: { dev, ino } };
  } catch (error) {
    return failed(error);
  }
}

/** Runs `steps`, reading synchronously. */
export function runProcSync<T>(steps: ProcSteps<T>): T {
  for (let step = steps.next(); ;) {
    if (step.done === true) return step.value;
    step = steps.next(readSync(step.value));
  }
}

/** Runs `steps`, stat()ing files with non-blocking I/O (see above). */
export async function runProcAsync<T>(steps: ProcSteps<T>): Promise<T> {
  for (let step = steps.next(); ;) {
    if (step.done === true) return step.value;
    step = steps.next(await read(step.value));
  }
}
