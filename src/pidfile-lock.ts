// The stale-PID fallback: where no kernel lock is to be had, the PID file is its own lock.
//
// Taking it: write "<pid>\n" to a new file beside it, then link(2) that file to the PID file's
// name, which fails if the name exists: the PID file appears whole, with its PID, or not at all
// (link is also the create that NFS has always made atomic). A file in the way is judged
// (holder-verdict.ts); a stale one is replaced with rename(2), under a short guard
// (guard.ts) and after a second look, so that of many processes finding it at once exactly one
// replaces it. Giving it up removes it, under the guard, only if it is still the file written.
//
// Every file-system call is a step of a generator (steps.ts), announced before it is made, and
// what is not the file system (this process's PID, the clocks, the process table) comes from a
// World (fallback-world.ts): a test scheduler can then run several instances through any order
// of their steps.
import fs from 'node:fs';
import path from 'node:path';
import { abortReason, fsErrorFor, LockedError, pathError } from './errors';
import { realWorld, type World } from './fallback-world';
import { dropGuard, requireGuard, takeGuard } from './guard';
import { EMPTY_GRACE_MS, judge, type Verdict } from './holder-verdict';
import type { Holding } from './holding';
import type { Logger } from './logger';
import { formatPid } from './pid-text';
import { readPidFileSync, type PidFileContents } from './read-pid';
import { fsStep, runSync, type Steps } from './steps';

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

function* readStep(file: string): Steps<PidFileContents> {
  yield fsStep('read', file);
  return readPidFileSync(file);
}

/** The identity of the file now at `file`, if it holds `pid`; null if it is something else. */
function* placedIdentity(file: string, pid: number): Steps<Identity | null> {
  const contents = yield* readStep(file);
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
function draftPath(file: string, world: World): string {
  drafts += 1;
  return path.join(path.dirname(file), `.${path.basename(file)}.${world.hostname()}.${world.pid}.${drafts}.pidguard`);
}

function* writeDraft(file: string, text: string, world: World): Steps<Draft> {
  const draft = draftPath(file, world);
  const before = world.now();
  yield fsStep('create', draft);
  let fd: number;
  try {
    fd = fs.openSync(draft, DRAFT_FLAGS, 0o644);
  } catch (error) {
    throw fsErrorFor(error, file);
  }
  try {
    fs.writeSync(fd, text);
    const stat = fs.fstatSync(fd, { bigint: true });
    const after = world.now();
    const clockOffsetMs = Number(stat.mtimeNs) / 1e6 - (before + after) / 2;
    world.clockOffsets.set(path.dirname(file), clockOffsetMs);
    return { path: draft, clockOffsetMs };
  } catch (error) {
    fs.closeSync(fd);
    fd = -1;
    yield* removeQuietly(draft);
    throw fsErrorFor(error, file);
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
}

/**
 * Removes the drafts that processes of this host left when they died between writing one and
 * placing it (a SIGKILL in that instant): nobody else cleans them up. Drafts of running
 * processes, and of other hosts, are left alone.
 */
function* removeDeadDrafts(file: string, logger: Logger, world: World): Steps<void> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.${world.hostname()}.`;
  let names: string[];
  yield fsStep('readdir', dir);
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.pidguard')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === world.pid || world.processFacts(pid).exists) continue;
    yield* removeQuietly(path.join(dir, name));
    logger.debug(`removed ${name}, left by PID ${pid}, which died`);
  }
}

function* removeQuietly(file: string): Steps<void> {
  yield fsStep('unlink', file);
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

function* lstatOrNull(file: string): Steps<fs.BigIntStats | null> {
  yield fsStep('lstat', file);
  try {
    return fs.lstatSync(file, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsErrorFor(error, file);
  }
}

/** Puts the draft at `file` if nothing is there: true, or false when something is. */
function* placeDraft(draft: Draft, file: string, text: string): Steps<boolean> {
  yield fsStep('link', draft.path, file);
  try {
    fs.linkSync(draft.path, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw fsErrorFor(error, file);
  }
  return yield* createExclusive(file, text);
}

/**
 * Where the file system has no hard links: create the PID file exclusively and write it. It is
 * empty for the moment between the two, which others treat as settling (EMPTY_GRACE_MS).
 */
function* createExclusive(file: string, text: string): Steps<boolean> {
  yield fsStep('create', file);
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
    fs.closeSync(fd);
    fd = -1;
    yield* removeQuietly(file); // ours, and holding no PID: never leave it behind
    throw fsErrorFor(error, file);
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
}

function sameContents(a: PidFileContents, b: PidFileContents): boolean {
  if (a.kind === 'missing' || b.kind === 'missing' || a.dev === null || b.dev === null) return false;
  return a.kind === b.kind && a.dev === b.dev && a.ino === b.ino && a.mtimeMs === b.mtimeMs &&
    (a.kind !== 'pid' || (b.kind === 'pid' && a.pid === b.pid));
}

function judgeIn(world: World, contents: Exclude<PidFileContents, { kind: 'missing' }>, clockOffsetMs: number): Verdict {
  const holder = contents.kind === 'pid' ? world.processFacts(contents.pid) : null;
  return judge({ contents, holder, clockOffsetMs, nowMs: world.now() });
}

/** The verdict on whatever file is at the path, by this process's reckoning of the file system's clock. */
export function judgeFile(contents: Exclude<PidFileContents, { kind: 'missing' }>, clockOffsetMs: number): Verdict {
  return judgeIn(realWorld, contents, clockOffsetMs);
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
function* claimVersion(file: string, draft: Draft, text: string, seen: Identified, world: World): Steps<number | null> {
  for (let level = 1; ; level += 1) {
    const claim = claimPath(file, seen, level);
    if (yield* placeDraft(draft, claim, text)) return level;
    const claimed = yield* readStep(claim);
    if (claimed.kind === 'missing') return null; // cleared by a claimer that finished: look again
    if (judgeIn(world, claimed, draft.clockOffsetMs).kind !== 'stale') return null;
  }
}

function* dropClaims(file: string, seen: Identified, upTo: number): Steps<void> {
  for (let level = 1; level <= upTo; level += 1) yield* removeQuietly(claimPath(file, seen, level));
}

/**
 * Removes the file at `file` so that the path is free at once. On Windows a file removed while
 * another process has it open keeps its name until the last handle closes (without POSIX delete
 * semantics: FAT, SMB, Wine), and under contention some contender always has it open to read the
 * PID, so the name would never go. An open file may still be renamed: there it goes to a draft
 * name of ours first (were we to die in between, the next takeover removes it as a dead draft).
 */
function* removeNow(file: string, world: World): Steps<void> {
  if (process.platform !== 'win32') {
    yield fsStep('unlink', file);
    fs.unlinkSync(file);
    return;
  }
  const tombstone = draftPath(file, world);
  yield fsStep('rename', file, tombstone);
  fs.renameSync(file, tombstone);
  yield* removeQuietly(tombstone);
}

/**
 * Puts the draft in place of the stale file: true, or false when another process placed its own
 * first. POSIX: one rename over it. Windows refuses to rename over a file that another process
 * has open, and contenders keep opening the stale file to read its PID, so there the stale file
 * is removed (removeNow) and the draft linked into the empty path, which a newcomer may fill
 * first (the path was free: it won). Either way only the holder of the guard and the version's
 * claim gets here.
 */
function* replaceStale(draft: Draft, file: string, text: string, world: World): Steps<boolean> {
  try {
    if (process.platform !== 'win32') {
      yield fsStep('rename', draft.path, file);
      fs.renameSync(draft.path, file);
      return true;
    }
    yield* removeNow(file, world);
  } catch (error) {
    throw fsErrorFor(error, file);
  }
  return yield* placeDraft(draft, file, text);
}

/** Replaces a stale file with the draft, under the guard, with the version's claim, and only if it is still that file. */
function* takeOver(file: string, draft: Draft, text: string, seen: Identified, why: string, logger: Logger, world: World): Steps<Attempt> {
  const release = yield* requireGuard(file, logger, world);
  try {
    const level = yield* claimVersion(file, draft, text, seen, world);
    if (level === null) return { kind: 'settling' }; // another process is taking it over now
    try {
      const stat = yield* lstatOrNull(file);
      if (stat === null) return { kind: 'changed' };
      refuseNonRegular(file, stat);
      if (!sameContents(yield* readStep(file), seen)) return { kind: 'changed' };
      if (!(yield* replaceStale(draft, file, text, world))) return { kind: 'changed' };
    } finally {
      yield* dropClaims(file, seen, level);
    }
    logger.info(`took over ${file}: ${why}`);
    yield* removeDeadDrafts(file, logger, world); // a takeover follows a crash, which may have left one
    const identity = yield* placedIdentity(file, world.pid);
    return identity === null ? { kind: 'changed' } : { kind: 'held', identity };
  } finally {
    yield* dropGuard(release, file, logger);
  }
}

/**
 * A look before writing anything: a file whose holder is alive (or that is settling) refuses us
 * as it is, so a refused attempt need not create and remove a draft, which on NFS costs round
 * trips. Needs the directory's clock offset from an earlier draft; null when a draft is needed.
 */
function* quickRefusal(file: string, world: World): Steps<Attempt | null> {
  const offset = world.clockOffsets.get(path.dirname(file));
  if (offset === undefined) return null;
  const stat = yield* lstatOrNull(file);
  if (stat === null) return null;
  refuseNonRegular(file, stat);
  const seen = yield* readStep(file);
  if (seen.kind === 'missing') return null;
  const verdict = judgeIn(world, seen, offset);
  if (verdict.kind === 'held') return { kind: 'busy', pid: verdict.pid };
  return verdict.kind === 'settling' ? { kind: 'settling' } : null;
}

function* attempt(file: string, text: string, logger: Logger, world: World): Steps<Attempt> {
  const refused = yield* quickRefusal(file, world);
  if (refused !== null) return refused;
  const draft = yield* writeDraft(file, text, world);
  try {
    if (yield* placeDraft(draft, file, text)) {
      const identity = yield* placedIdentity(file, world.pid);
      return identity === null ? { kind: 'changed' } : { kind: 'held', identity };
    }
    const stat = yield* lstatOrNull(file);
    if (stat === null) return { kind: 'changed' }; // released in between
    refuseNonRegular(file, stat);
    const seen = yield* readStep(file);
    if (seen.kind === 'missing' || seen.dev === null || seen.ino === null || seen.mtimeMs === null) return { kind: 'changed' };
    const verdict = judgeIn(world, seen, draft.clockOffsetMs);
    if (verdict.kind === 'held') return { kind: 'busy', pid: verdict.pid };
    if (verdict.kind === 'settling') return { kind: 'settling' };
    return yield* takeOver(file, draft, text, { ...seen, dev: seen.dev, ino: seen.ino, mtimeMs: seen.mtimeMs }, verdict.why, logger, world);
  } finally {
    yield* removeQuietly(draft.path); // a second name after link, gone after rename, else unused
  }
}

export interface PidFileRequest {
  path: string;
  logger: Logger;
  waitMs: number;
  signal: AbortSignal | undefined;
  /** This process, its clocks and the process table; a test scheduler gives its own. */
  world?: World;
}

/** Takes the PID file at `path` as its own lock, waiting (by polling) as `waitMs` says. */
export function* takePidFile({ path: file, logger, waitMs, signal, world = realWorld }: PidFileRequest): Steps<PidFileHolding> {
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
        return new PidFileHolding(file, outcome.identity, world.pid, logger, world);
      case 'changed':
        churn += 1;
        if (churn >= MAX_CHURN) throw new LockedError(file, null);
        continue;
      case 'settling':
        if (settlingSince === null) {
          logger.debug(`${file} is settling: empty and just written (its holder is writing its PID), or being taken over; waiting`);
          settlingSince = world.monotonic();
        }
        // An empty file turns stale within EMPTY_GRACE_MS; only a takeover whose live claimer is
        // stuck (stopped, say) settles longer: contention, once any wait is over.
        if (world.monotonic() - settlingSince > SETTLE_LIMIT_MS && world.monotonic() >= deadline) throw new LockedError(file, null);
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

/** A held fallback lock: the PID file at `path`, as long as it is the file written. */
export class PidFileHolding implements Holding {
  readonly mode = 'pidfile' as const;
  readonly #path: string;
  readonly #logger: Logger;
  readonly #world: World;
  #identity: Identity;
  #pid: number;

  constructor(file: string, identity: Identity, pid: number, logger: Logger, world: World) {
    this.#path = file;
    this.#identity = identity;
    this.#pid = pid;
    this.#logger = logger;
    this.#world = world;
  }

  /** Whether the path still names the file written, with the PID written in it. */
  *#stillOurs(): Steps<boolean> {
    const placed = yield* placedIdentity(this.#path, this.#pid);
    return placed !== null && sameIdentity(placed, this.#identity);
  }

  verify(): boolean {
    return runSync(this.#stillOurs());
  }

  release(): void {
    runSync(this.releaseSteps());
  }

  /** release(), as steps. */
  *releaseSteps(): Steps<void> {
    const file = this.#path;
    // Nobody takes over a live holder's file, so the guard here only closes the window against a
    // takeover that misjudged us; past a short try, remove our own file without it.
    const guard = yield* takeGuard(file, this.#logger, this.#world, RELEASE_GUARD_WAIT_MS);
    if (guard === null) this.#logger.warn(`releasing ${file} without its guard, which another process holds`);
    try {
      if (yield* this.#stillOurs()) yield* removeNow(file, this.#world);
      else this.#logger.warn(`${file} is no longer the file this process wrote; left in place`);
    } catch (error) {
      throw fsErrorFor(error, file);
    } finally {
      if (guard !== null) yield* dropGuard(guard, file, this.#logger);
    }
  }

  recordPid(pid: number): void {
    runSync(this.recordSteps(pid));
  }

  /** recordPid(), as steps. */
  *recordSteps(pid: number): Steps<void> {
    const file = this.#path;
    const draft = yield* writeDraft(file, formatPid(pid), this.#world);
    try {
      const guard = yield* requireGuard(file, this.#logger, this.#world);
      try {
        if (!(yield* this.#stillOurs())) throw pathError('ESTALE', 'the PID file was replaced by another process', 'rename', file);
        yield fsStep('rename', draft.path, file);
        fs.renameSync(draft.path, file);
        const identity = yield* placedIdentity(file, pid);
        if (identity === null) throw pathError('ESTALE', 'the PID file was replaced by another process', 'rename', file);
        this.#identity = identity;
        this.#pid = pid;
      } finally {
        yield* dropGuard(guard, file, this.#logger);
      }
    } catch (error) {
      throw fsErrorFor(error, file);
    } finally {
      yield* removeQuietly(draft.path);
    }
  }

  descriptor(): null {
    return null; // nothing to inherit: the file and the live PID in it are the lock
  }
}
