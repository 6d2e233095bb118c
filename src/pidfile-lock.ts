// The stale-PID fallback: where no kernel lock is to be had, the PID file is its own lock.
//
// Taking it: write "<pid>\n" to a new file beside it, then link(2) that file to the PID file's
// name, which fails if the name exists: the PID file appears whole, with its PID, or not at all
// (link is also the create that NFS has always made atomic). A file in the way is judged
// (holder-verdict.ts); a stale one is replaced with rename(2), under a short guard
// (guard.ts) and after a second look, so that of many processes finding it at once exactly one
// replaces it. Giving it up removes it, under the guard, only if it is still the file written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { abortReason, fsErrorFor, LockedError, pathError } from './errors';
import { dropGuard, requireGuard, takeGuard } from './guard';
import { EMPTY_GRACE_MS, judge, type Verdict } from './holder-verdict';
import type { Holding } from './holding';
import type { Logger } from './logger';
import { formatPid } from './pid-text';
import { processRunning, readProcessFacts } from './process-info';
import { readPidFileSync, type PidFileContents } from './read-pid';
import { runSync, type Steps } from './steps';

const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const DRAFT_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | NOFOLLOW;

/** Polling, the one way to wait without a kernel lock: from this interval, doubling up to the next. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;
/** A settling (empty, young) file is looked at again this often until it is written or stale. */
const SETTLE_POLL_MS = 10;
/** Past this, settling is contention: twice the grace an empty file gets. */
const SETTLE_LIMIT_MS = 2 * EMPTY_GRACE_MS;
/** Times in a row the file may change under us before we call it contention. */
const MAX_CHURN = 64;
/** How long a release tries for the guard before removing its own file without it. */
const RELEASE_GUARD_WAIT_MS = 1000;

/** link(2) refused by the file system itself (no hard links there): create exclusively instead. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EXDEV']);

/**
 * Which file the PID file is, as read through its path: the device and the time it was written.
 * Not the inode number, which FUSE file systems may renumber while a file is in use; nobody
 * writes to a PID file once placed, so its mtime stays what it was, and with the PID it holds it
 * tells our file from any other.
 */
interface Identity {
  dev: bigint;
  mtimeMs: number;
}

const sameIdentity = (a: Identity, b: Identity): boolean => a.dev === b.dev && a.mtimeMs === b.mtimeMs;

/** The identity of the file now at `file`, if it holds `pid`; null if it is something else. */
function placedIdentity(file: string, pid: number): Identity | null {
  const contents = readPidFileSync(file);
  return contents.kind === 'pid' && contents.pid === pid ? { dev: contents.dev, mtimeMs: contents.mtimeMs } : null;
}

/** A PID file written in full under a name of its own beside the real one. */
interface Draft {
  path: string;
  /** The file system's clock less ours, measured on this file: an NFS server keeps its own time. */
  clockOffsetMs: number;
}

let drafts = 0;

/**
 * A name for a draft that no other writer uses: host, PID and a counter, as NFS-safe lock files
 * have always been named, since the directory may be shared between hosts.
 */
function draftPath(file: string): string {
  drafts += 1;
  return path.join(path.dirname(file), `.${path.basename(file)}.${os.hostname()}.${process.pid}.${drafts}.pidguard`);
}

/** The last clock offset measured in each directory: file systems keep their clocks' offsets. */
const clockOffsets = new Map<string, number>();

function writeDraft(file: string, text: string): Draft {
  const draft = draftPath(file);
  const before = Date.now();
  let fd: number;
  try {
    fd = fs.openSync(draft, DRAFT_FLAGS, 0o644);
  } catch (error) {
    throw fsErrorFor(error, file);
  }
  try {
    fs.writeSync(fd, text);
    const stat = fs.fstatSync(fd, { bigint: true });
    const after = Date.now();
    const clockOffsetMs = Number(stat.mtimeNs) / 1e6 - (before + after) / 2;
    clockOffsets.set(path.dirname(file), clockOffsetMs);
    return { path: draft, clockOffsetMs };
  } catch (error) {
    removeQuietly(draft);
    throw fsErrorFor(error, file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Removes the drafts that processes of this host left when they died between writing one and
 * placing it (a SIGKILL in that instant): nobody else cleans them up. Drafts of running
 * processes, and of other hosts, are left alone.
 */
function removeDeadDrafts(file: string, logger: Logger): void {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.${os.hostname()}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.pidguard')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processRunning(pid)) continue;
    removeQuietly(path.join(dir, name));
    logger.debug(`removed ${name}, left by PID ${pid}, which died`);
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone (renamed into place), or nothing more can be done
  }
}

/** Refuses what pidguard never replaces or removes: a symlink (its target must survive), a directory, a FIFO or device. */
function refuseNonRegular(file: string, stat: fs.BigIntStats): void {
  if (stat.isSymbolicLink()) throw pathError('ELOOP', 'too many symbolic links encountered', 'open', file);
  if (stat.isDirectory()) throw pathError('EISDIR', 'illegal operation on a directory', 'open', file);
  if (!stat.isFile()) throw pathError('EINVAL', 'not a regular file', 'open', file);
}

function lstatOrNull(file: string): fs.BigIntStats | null {
  try {
    return fs.lstatSync(file, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsErrorFor(error, file);
  }
}

/** Puts the draft at `file` if nothing is there: true, or false when something is. */
function placeDraft(draft: Draft, file: string, text: string): boolean {
  try {
    fs.linkSync(draft.path, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw fsErrorFor(error, file);
  }
  return createExclusive(file, text);
}

/**
 * Where the file system has no hard links: create the PID file exclusively and write it. It is
 * empty for the moment between the two, which others treat as settling (EMPTY_GRACE_MS).
 */
function createExclusive(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, DRAFT_FLAGS, 0o644);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // Our draft was just written in this directory, so it exists: ENOENT here is the file system
    // losing a race between this create and another process's (seen once in about twenty runs of
    // the FUSE test file system, in a 16-process storm). Something was there; the caller looks
    // again, and its bound on churn keeps that from going on.
    if (code === 'ENOENT') return false;
    throw fsErrorFor(error, file);
  }
  try {
    fs.writeSync(fd, text);
    return true;
  } catch (error) {
    removeQuietly(file); // ours, and holding no PID: never leave it behind
    throw fsErrorFor(error, file);
  } finally {
    fs.closeSync(fd);
  }
}

function sameContents(a: PidFileContents, b: PidFileContents): boolean {
  if (a.kind === 'missing' || b.kind === 'missing' || a.dev === null || b.dev === null) return false;
  return a.kind === b.kind && a.dev === b.dev && a.ino === b.ino && a.mtimeMs === b.mtimeMs &&
    (a.kind !== 'pid' || (b.kind === 'pid' && a.pid === b.pid));
}

/** The verdict on whatever file is at the path, by this process's reckoning of the file system's clock. */
export function judgeFile(contents: Exclude<PidFileContents, { kind: 'missing' }>, clockOffsetMs: number): Verdict {
  const holder = contents.kind === 'pid' ? readProcessFacts(contents.pid) : null;
  return judge({ contents, holder, clockOffsetMs, nowMs: Date.now() });
}

type Attempt =
  | { kind: 'held'; identity: Identity }
  | { kind: 'busy'; pid: number | null }
  | { kind: 'settling' }
  | { kind: 'changed' };

/** The name of the `level`th claim on one version of the PID file (device, inode and mtime). */
function claimPath(file: string, seen: Identified, level: number): string {
  const version = `${seen.dev}-${seen.ino}-${Math.round(seen.mtimeMs * 1000)}`;
  return path.join(path.dirname(file), `.${path.basename(file)}.takeover.${version}.${level}`);
}

type Identified = Exclude<PidFileContents, { kind: 'missing' }> & { dev: bigint; ino: bigint; mtimeMs: number };

/**
 * The right to replace one stale version of the PID file: a hard link of our draft (so that it
 * holds our PID) made under a name that only that version has, which link(2) lets exactly one
 * process create. A claimer that died before replacing leaves its claim; the next level may be
 * claimed only once the one before is judged dead by its PID, never by time, so two live claimers
 * of one version cannot both go on. The guard serialises takeovers already; this keeps them
 * exclusive even where the guard is broken as stale by two processes at once.
 * Returns the level claimed, or null when a live process holds the claim.
 */
function claimVersion(file: string, draft: Draft, text: string, seen: Identified): number | null {
  for (let level = 1; ; level += 1) {
    const claim = claimPath(file, seen, level);
    if (placeDraft(draft, claim, text)) return level;
    const claimed = readPidFileSync(claim);
    if (claimed.kind === 'missing') return null; // cleared by a claimer that finished: look again
    if (judgeFile(claimed, draft.clockOffsetMs).kind !== 'stale') return null;
  }
}

function dropClaims(file: string, seen: Identified, upTo: number): void {
  for (let level = 1; level <= upTo; level += 1) removeQuietly(claimPath(file, seen, level));
}

/**
 * Removes the file at `file` so that the path is free at once. On Windows a file removed while
 * another process has it open keeps its name until the last handle closes (without POSIX delete
 * semantics: FAT, SMB, Wine), and under contention some contender always has it open to read the
 * PID, so the name would never go. An open file may still be renamed: there it goes to a draft
 * name of ours first (were we to die in between, the next takeover removes it as a dead draft).
 */
function removeNow(file: string): void {
  if (process.platform !== 'win32') {
    fs.unlinkSync(file);
    return;
  }
  const tombstone = draftPath(file);
  fs.renameSync(file, tombstone);
  removeQuietly(tombstone);
}

/**
 * Puts the draft in place of the stale file: true, or false when another process placed its own
 * first. POSIX: one rename over it. Windows refuses to rename over a file that another process
 * has open, and contenders keep opening the stale file to read its PID, so there the stale file
 * is removed (removeNow) and the draft linked into the empty path, which a newcomer may fill
 * first (the path was free: it won). Either way only the holder of the guard and the version's
 * claim gets here.
 */
function replaceStale(draft: Draft, file: string, text: string): boolean {
  try {
    if (process.platform !== 'win32') {
      fs.renameSync(draft.path, file);
      return true;
    }
    removeNow(file);
  } catch (error) {
    throw fsErrorFor(error, file);
  }
  return placeDraft(draft, file, text);
}

/** Replaces a stale file with the draft, under the guard, with the version's claim, and only if it is still that file. */
function* takeOver(file: string, draft: Draft, text: string, seen: Identified, why: string, logger: Logger): Steps<Attempt> {
  const release = yield* requireGuard(file, logger);
  try {
    const level = claimVersion(file, draft, text, seen);
    if (level === null) return { kind: 'settling' }; // another process is taking it over now
    try {
      const stat = lstatOrNull(file);
      if (stat === null) return { kind: 'changed' };
      refuseNonRegular(file, stat);
      if (!sameContents(readPidFileSync(file), seen)) return { kind: 'changed' };
      if (!replaceStale(draft, file, text)) return { kind: 'changed' };
    } finally {
      dropClaims(file, seen, level);
    }
    logger.info(`took over ${file}: ${why}`);
    removeDeadDrafts(file, logger); // a takeover follows a crash, which may have left one
    const identity = placedIdentity(file, process.pid);
    return identity === null ? { kind: 'changed' } : { kind: 'held', identity };
  } finally {
    dropGuard(release, file, logger);
  }
}

/**
 * A look before writing anything: a file whose holder is alive (or that is settling) refuses us
 * as it is, so a refused attempt need not create and remove a draft, which on NFS costs round
 * trips. Needs the directory's clock offset from an earlier draft; null when a draft is needed.
 */
function quickRefusal(file: string): Attempt | null {
  const offset = clockOffsets.get(path.dirname(file));
  if (offset === undefined) return null;
  const stat = lstatOrNull(file);
  if (stat === null) return null;
  refuseNonRegular(file, stat);
  const seen = readPidFileSync(file);
  if (seen.kind === 'missing') return null;
  const verdict = judgeFile(seen, offset);
  if (verdict.kind === 'held') return { kind: 'busy', pid: verdict.pid };
  return verdict.kind === 'settling' ? { kind: 'settling' } : null;
}

function* attempt(file: string, text: string, logger: Logger): Steps<Attempt> {
  const refused = quickRefusal(file);
  if (refused !== null) return refused;
  const draft = writeDraft(file, text);
  try {
    if (placeDraft(draft, file, text)) {
      const identity = placedIdentity(file, process.pid);
      return identity === null ? { kind: 'changed' } : { kind: 'held', identity };
    }
    const stat = lstatOrNull(file);
    if (stat === null) return { kind: 'changed' }; // released in between
    refuseNonRegular(file, stat);
    const seen = readPidFileSync(file);
    if (seen.kind === 'missing' || seen.dev === null || seen.ino === null || seen.mtimeMs === null) return { kind: 'changed' };
    const verdict = judgeFile(seen, draft.clockOffsetMs);
    if (verdict.kind === 'held') return { kind: 'busy', pid: verdict.pid };
    if (verdict.kind === 'settling') return { kind: 'settling' };
    return yield* takeOver(file, draft, text, { ...seen, dev: seen.dev, ino: seen.ino, mtimeMs: seen.mtimeMs }, verdict.why, logger);
  } finally {
    removeQuietly(draft.path); // a second name after link, gone after rename, else unused
  }
}

export interface PidFileRequest {
  path: string;
  logger: Logger;
  waitMs: number;
  signal: AbortSignal | undefined;
}

/** Takes the PID file at `path` as its own lock, waiting (by polling) as `waitMs` says. */
export function* takePidFile({ path: file, logger, waitMs, signal }: PidFileRequest): Steps<PidFileHolding> {
  const text = formatPid(process.pid);
  const deadline = performance.now() + waitMs;
  let pause = FIRST_POLL_MS;
  let churn = 0;
  let settlingSince: number | null = null;
  for (;;) {
    if (signal?.aborted === true) throw abortReason(signal);
    const outcome = yield* attempt(file, text, logger);
    switch (outcome.kind) {
      case 'held':
        logger.debug(`locked ${file} as PID ${process.pid} (pidfile mode)`);
        return new PidFileHolding(file, outcome.identity, process.pid, logger);
      case 'changed':
        churn += 1;
        if (churn >= MAX_CHURN) throw new LockedError(file, null);
        continue;
      case 'settling':
        if (settlingSince === null) {
          logger.debug(`${file} is settling: empty and just written (its holder is writing its PID), or being taken over; waiting`);
          settlingSince = performance.now();
        }
        // An empty file turns stale within EMPTY_GRACE_MS; only a takeover whose live claimer is
        // stuck (stopped, say) settles longer: contention, once any wait is over.
        if (performance.now() - settlingSince > SETTLE_LIMIT_MS && performance.now() >= deadline) throw new LockedError(file, null);
        yield SETTLE_POLL_MS;
        continue;
      case 'busy':
        churn = 0;
        settlingSince = null;
        if (performance.now() >= deadline) {
          logger.debug(`${file} is held by PID ${outcome.pid ?? 'unknown'}`);
          throw new LockedError(file, outcome.pid);
        }
        yield Math.min(pause, Math.max(1, deadline - performance.now()));
        pause = Math.min(pause * 2, MAX_POLL_MS);
    }
  }
}

/** A held fallback lock: the PID file at `path`, as long as it is the file written. */
export class PidFileHolding implements Holding {
  readonly mode = 'pidfile' as const;
  readonly #path: string;
  readonly #logger: Logger;
  #identity: Identity;
  #pid: number;

  constructor(file: string, identity: Identity, pid: number, logger: Logger) {
    this.#path = file;
    this.#identity = identity;
    this.#pid = pid;
    this.#logger = logger;
  }

  /** Whether the path still names the file written, with the PID written in it. */
  #stillOurs(): boolean {
    const placed = placedIdentity(this.#path, this.#pid);
    return placed !== null && sameIdentity(placed, this.#identity);
  }

  verify(): boolean {
    return this.#stillOurs();
  }

  release(): void {
    const file = this.#path;
    // Nobody takes over a live holder's file, so the guard here only closes the window against a
    // takeover that misjudged us; past a short try, remove our own file without it.
    const guard = runSync(takeGuard(file, this.#logger, RELEASE_GUARD_WAIT_MS));
    if (guard === null) this.#logger.warn(`releasing ${file} without its guard, which another process holds`);
    try {
      if (this.#stillOurs()) removeNow(file);
      else this.#logger.warn(`${file} is no longer the file this process wrote; left in place`);
    } catch (error) {
      throw fsErrorFor(error, file);
    } finally {
      if (guard !== null) dropGuard(guard, file, this.#logger);
    }
  }

  recordPid(pid: number): void {
    const file = this.#path;
    const draft = writeDraft(file, formatPid(pid));
    try {
      const guard = runSync(requireGuard(file, this.#logger));
      try {
        if (!this.#stillOurs()) throw pathError('ESTALE', 'the PID file was replaced by another process', 'rename', file);
        fs.renameSync(draft.path, file);
        const identity = placedIdentity(file, pid);
        if (identity === null) throw pathError('ESTALE', 'the PID file was replaced by another process', 'rename', file);
        this.#identity = identity;
        this.#pid = pid;
      } finally {
        dropGuard(guard, file, this.#logger);
      }
    } catch (error) {
      throw fsErrorFor(error, file);
    } finally {
      removeQuietly(draft.path);
    }
  }

  descriptor(): null {
    return null; // nothing to inherit: the file and the live PID in it are the lock
  }

  keepAtExit(): void {
    // Only JavaScript gives this lock up at exit, and PidLock already leaves it alone when asked.
  }
}
