// Reading /proc one way for the sync and the async API: an algorithm is a generator that yields
// the reads it wants, and each driver does them its own way (blocking, or with fs.promises).
import fs from 'node:fs';

/**
 * One read: a directory's names, a file's text, the texts of several files (read at once by the
 * async driver: a process's fdinfo files), or the identity of the file a path names.
 */
export type ProcRead = { op: 'list' | 'text' | 'identity'; path: string } | { op: 'texts'; paths: readonly string[] };

/** What a file is, by stat: enough to tell whether two paths name one file. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/** A read's outcome: its value, or the error code it failed with (ENOENT, EACCES, ...). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

type Reply = Outcome<string[] | string | FileIdentity> | Outcome<string>[];

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

/** The texts of files `paths`, each read as text() reads one. */
export function* texts(paths: readonly string[]): ProcSteps<Outcome<string>[]> {
  return (yield { op: 'texts', paths }) as Outcome<string>[];
}

/** The device and inode of the file `path` names, following it (a /proc/<pid>/fd/<n> link). */
export function* identity(path: string): ProcSteps<Outcome<FileIdentity>> {
  return (yield { op: 'identity', path }) as Outcome<FileIdentity>;
}

function textSync(path: string): Outcome<string> {
  try {
    return { ok: true, value: fs.readFileSync(path, 'latin1') };
  } catch (error) {
    return failed(error);
  }
}

async function readText(path: string): Promise<Outcome<string>> {
  try {
    return { ok: true, value: await fs.promises.readFile(path, 'latin1') };
  } catch (error) {
    return failed(error);
  }
}

function readSync(request: ProcRead): Reply {
  if (request.op === 'texts') return request.paths.map(textSync);
  if (request.op === 'text') return textSync(request.path);
  try {
    if (request.op === 'list') return { ok: true, value: fs.readdirSync(request.path) };
    const { dev, ino } = fs.statSync(request.path, { bigint: true });
    return { ok: true, value: { dev, ino } };
  } catch (error) {
    return failed(error);
  }
}

async function read(request: ProcRead): Promise<Reply> {
  if (request.op === 'texts') return Promise.all(request.paths.map(readText));
  if (request.op === 'text') return readText(request.path);
  try {
    if (request.op === 'list') return { ok: true, value: await fs.promises.readdir(request.path) };
    const { dev, ino } = await fs.promises.stat(request.path, { bigint: true });
    return { ok: true, value: { dev, ino } };
  } catch (error) {
    return failed(error);
  }
}

/** Runs `steps`, reading synchronously. */
export function runProcSync<T>(steps: ProcSteps<T>): T {
  for (let step = steps.next(); ; ) {
    if (step.done === true) return step.value;
    step = steps.next(readSync(step.value));
  }
}

/** Runs `steps`, reading with non-blocking I/O. */
export async function runProcAsync<T>(steps: ProcSteps<T>): Promise<T> {
  for (let step = steps.next(); ; ) {
    if (step.done === true) return step.value;
    step = steps.next(await read(step.value));
  }
}
