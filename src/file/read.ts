// Reading a PID file: the I/O around parsePid, sync and async, never following a final symlink.
// lookAtPidFileSync is the stale-PID fallback's: the stat with the contents, for trust and identity.
import fs from 'node:fs';
import { promisify } from 'node:util';
import { binding, type Binding } from '../addon/binding';
import { prepareDirectory } from './path-trust';
import { MAX_PID_TEXT_BYTES, parsePid } from './pid-text';
import { lockError } from './refusal';

/**
 * What a PID file holds, with the file's identity for a /proc/locks lookup. `mountDevice` is the
 * device of the file's mount as /proc/locks prints it (Linux, when asked for: see kernel/mount-device.ts);
 * null otherwise.
 */
export type PidFileContents =
  | { kind: 'missing' }
  | { kind: 'pid'; pid: number; dev: bigint; ino: bigint; mtimeMs: number; mountDevice: string | null }
  | { kind: 'empty'; dev: bigint; ino: bigint; mtimeMs: number; mountDevice: string | null }
  | { kind: 'other'; dev: bigint | null; ino: bigint | null; mtimeMs: number | null; mountDevice: string | null };

// O_NONBLOCK: a FIFO planted at the path must not hang the reader. O_NOCTTY: a terminal there
// must not become a daemon's controlling terminal. O_NOFOLLOW does not exist on Windows, where
// links are refused by the lock call instead (nor do the other two).
const READ_FLAGS =
  fs.constants.O_RDONLY |
  (fs.constants.O_NOFOLLOW ?? 0) |
  (fs.constants.O_NONBLOCK ?? 0) |
  (fs.constants.O_NOCTTY ?? 0);

/** The addon, to open PID files with (POSIX); null where it cannot load, or on Windows. */
function addonForReading(): Binding | null {
  if (process.platform === 'win32') return null;
  try {
    return binding();
  } catch {
    return null;
  }
}

/**
 * What pidguard uses of a file's stat: Node's bigint stat has all of it, and so has what the
 * addon reads (the same names, so either serves).
 */
export interface FileFacts {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mode: bigint;
  readonly uid: bigint;
  readonly gid: bigint;
  readonly nlink: bigint;
  readonly mtimeNs: bigint;
  isFile(): boolean;
  isDirectory(): boolean;
}

/** A PID file opened to read, with whoever opened it: that one reads and closes it too. */
interface OpenedPidFile {
  fd: number;
  /** The addon, when it opened the file: a runtime's own fs need not know its descriptor (Deno's does not). */
  addon: Binding | null;
}

/** What a read of an opened PID file found: the file's facts, and its bytes (none unless a regular file). */
interface FileRead {
  stat: FileFacts;
  bytes: Uint8Array;
}

const S_IFMT = BigInt(fs.constants.S_IFMT);
const S_IFREG = BigInt(fs.constants.S_IFREG);
const S_IFDIR = BigInt(fs.constants.S_IFDIR);
/** One byte more than a PID file can hold tells a huge file from a full one without reading it. */
const READ_BYTES = MAX_PID_TEXT_BYTES + 1;

/**
 * The PID file at `file`, opened to read as the lock reaches it: never through a symlink another
 * user owns or placed (EPERM), never following one at the end (ELOOP), never waiting on a FIFO.
 * The addon opens it so, with no window between a check and the open; without it (Windows, or
 * mode 'pidfile' where it cannot load) Node's open follows a look for such links. A status, a
 * stop or a readPid must not act on a file that no holder could have taken.
 */
function openPidFile(file: string): OpenedPidFile {
  const addon = addonForReading();
  if (addon === null) {
    prepareDirectory(file, false);
    return { fd: fs.openSync(file, READ_FLAGS), addon: null };
  }
  try {
    return { fd: addon.openToRead(file), addon };
  } catch (error) {
    throw lockError(error, file);
  }
}

function readWithAddon(addon: Binding, fd: number): FileRead {
  const { bytes, ...facts } = addon.readOpened(fd, READ_BYTES);
  const type = facts.mode & S_IFMT;
  return { stat: { ...facts, isFile: () => type === S_IFREG, isDirectory: () => type === S_IFDIR }, bytes };
}

function readOpenedSync({ fd, addon }: OpenedPidFile): FileRead {
  if (addon !== null) return readWithAddon(addon, fd);
  const stat = fs.fstatSync(fd, { bigint: true });
  if (!stat.isFile()) return { stat, bytes: new Uint8Array(0) };
  const buffer = Buffer.alloc(READ_BYTES);
  return { stat, bytes: buffer.subarray(0, fs.readSync(fd, buffer, 0, buffer.length, 0)) };
}

const fstatAsync = promisify((fd: number, done: (error: NodeJS.ErrnoException | null, stat: fs.BigIntStats) => void) =>
  fs.fstat(fd, { bigint: true }, done),
);
const readAsync = promisify(fs.read);
const closeAsync = promisify(fs.close);

/** readOpenedSync, with Node's non-blocking reads (the addon's read of a few bytes is synchronous). */
async function readOpened({ fd, addon }: OpenedPidFile): Promise<FileRead> {
  if (addon !== null) return readWithAddon(addon, fd);
  const stat = await fstatAsync(fd);
  if (!stat.isFile()) return { stat, bytes: new Uint8Array(0) };
  const buffer = Buffer.alloc(READ_BYTES);
  const { bytesRead } = await readAsync(fd, buffer, 0, buffer.length, 0);
  return { stat, bytes: buffer.subarray(0, bytesRead) };
}

function closeOpenedSync({ fd, addon }: OpenedPidFile): void {
  if (addon !== null) addon.closeDescriptor(fd);
  else fs.closeSync(fd);
}

async function closeOpened({ fd, addon }: OpenedPidFile): Promise<void> {
  if (addon !== null) addon.closeDescriptor(fd);
  else await closeAsync(fd);
}

/** Errors meaning "no PID file here", as opposed to "could not look". */
function notAPidFile(error: unknown): PidFileContents | null {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
  // ENXIO: a Unix socket (or a device with no driver behind it), which cannot be opened at all.
  if (code === 'ELOOP' || code === 'EISDIR' || code === 'ENXIO')
    return { kind: 'other', dev: null, ino: null, mtimeMs: null, mountDevice: null };
  return null;
}

function classify(stat: FileFacts, bytes: Uint8Array, mountDevice: string | null): PidFileContents {
  const { dev, ino } = stat;
  // When the file was last written, by the file system's clock, for the stale-PID fallback.
  const mtimeMs = Number(stat.mtimeNs) / 1e6;
  if (!stat.isFile() || bytes.length > MAX_PID_TEXT_BYTES) return { kind: 'other', dev, ino, mtimeMs, mountDevice };
  if (bytes.length === 0) return { kind: 'empty', dev, ino, mtimeMs, mountDevice };
  const pid = parsePid(bytes);
  return pid === null
    ? { kind: 'other', dev, ino, mtimeMs, mountDevice }
    : { kind: 'pid', pid, dev, ino, mtimeMs, mountDevice };
}

/** Finds the device of the mount an open descriptor's file is on, as /proc/locks prints it; null where not told. */
export type MountLookup = (fd: number) => string | null;

/** What a look at a path found: the contents, and the stat of the file they were read from. */
export interface PidFileLook {
  contents: PidFileContents;
  /** The file's stat, as read through the descriptor the contents came from; null when nothing was opened. */
  stat: FileFacts | null;
  /** ELOOP or EISDIR when the open itself refused the path (a symlink, a directory), else null. */
  refused: 'ELOOP' | 'EISDIR' | null;
}

/**
 * Errors from a file already open that mean it was removed or replaced under the read: FUSE and
 * NFS answer fstat of a descriptor by path, and ESTALE is NFS's word for a file handle gone.
 */
const VANISHED = new Set(['ENOENT', 'ESTALE']);
/** Looks in a row at a path whose file keeps vanishing under the read before calling it missing. */
const LOOKS = 8;

/**
 * Reads the file at `file` with the stat of that very file. A file that vanishes between the open
 * and the read is looked for again: contention, not an error; past LOOKS tries it is missing.
 * `mountOf`: also find its mount's device, for a /proc/locks lookup (kernel/mount-device.ts).
 */
export function lookAtPidFileSync(file: string, mountOf: MountLookup | null = null): PidFileLook {
  for (let look = 1; ; look += 1) {
    let opened: OpenedPidFile;
    try {
      opened = openPidFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ESTALE') return { contents: { kind: 'missing' }, stat: null, refused: null };
      const answer = notAPidFile(error);
      if (answer === null) throw error;
      return { contents: answer, stat: null, refused: code === 'ELOOP' || code === 'EISDIR' ? code : null };
    }
    try {
      const { stat, bytes } = readOpenedSync(opened);
      const mountDevice = mountOf === null ? null : mountOf(opened.fd);
      return { contents: classify(stat, bytes, mountDevice), stat, refused: null };
    } catch (error) {
      if (!VANISHED.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      if (look >= LOOKS) return { contents: { kind: 'missing' }, stat: null, refused: null };
    } finally {
      closeOpenedSync(opened);
    }
  }
}

/** Reads the file at `file`; `mountOf`: also find its mount's device, for a /proc/locks lookup. */
export function readPidFileSync(file: string, mountOf: MountLookup | null = null): PidFileContents {
  return lookAtPidFileSync(file, mountOf).contents;
}

/**
 * readPidFileSync, with non-blocking I/O for the reads (the open is the addon's, or, without it,
 * Node's own). A file that vanishes under the read is looked for again, as there.
 */
export async function readPidFile(file: string, mountOf: MountLookup | null = null): Promise<PidFileContents> {
  // The open is synchronous, and a missing file needs nothing more: without this turn of the
  // event loop, `while (...) await inspect(f)` would never let timers or child exits through.
  await new Promise((resolve) => setImmediate(resolve));
  for (let look = 1; ; look += 1) {
    let opened: OpenedPidFile;
    try {
      opened = openPidFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESTALE') return { kind: 'missing' };
      const answer = notAPidFile(error);
      if (answer === null) throw error;
      return answer;
    }
    try {
      const { stat, bytes } = await readOpened(opened);
      const mountDevice = mountOf === null ? null : mountOf(opened.fd);
      return classify(stat, bytes, mountDevice);
    } catch (error) {
      if (!VANISHED.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      if (look >= LOOKS) return { kind: 'missing' };
    } finally {
      await closeOpened(opened);
    }
  }
}
