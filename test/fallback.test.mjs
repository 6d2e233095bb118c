// The stale-PID fallback on its own terms: stale files taken over by exactly one of many, PID
// reuse caught by start time, the empty file of a holder killed mid-write, and the automatic
// fallback on a real file system that refuses locks (a FUSE mount answering flock with ENOLCK).
// The behaviour it shares with the kernel lock is tested by the mode-neutral suites, which
// test/run.mjs runs again with PIDGUARD_MODE=pidfile.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { acquire, acquireSync, inspectSync, lock, LockedError, lockSync, readPid } from 'pidguard';
import { here, onWindows, run, startAgents, startSleeper, tempDir } from './helpers.mjs';

const TIMEOUT = { timeout: 120_000 };
const pidfile = { mode: 'pidfile' };
const linux = process.platform === 'linux';
/** Where the fallback knows when a process started: /proc on Linux, GetProcessTimes on Windows. */
const startTimes = linux || onWindows;

/** A logger that keeps what it is told. */
function recorder() {
  const lines = [];
  const keep = (level) => (message) => lines.push(`${level}: ${message}`);
  return { lines, logger: { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') } };
}

/** A PID that no process has: one that just exited. */
function deadPid() {
  return Number(run(process.execPath, ['-e', 'console.log(process.pid)']).stdout);
}

/** Sets a file's mtime (and atime) to `date`. */
function backdate(file, date) {
  fs.utimesSync(file, date, date);
}

test('16 processes find one stale PID file at once: exactly one takes it over, every loser names it; 8 rounds', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'stale.pid');
  const agents = await startAgents(t, 16);
  for (let round = 1; round <= 8; round += 1) {
    fs.writeFileSync(file, `${deadPid()}\n`);
    const answers = await Promise.all(agents.map((agent) => agent.ask({ op: 'acquire', path: file, options: pidfile })));
    const winners = answers.filter((answer) => answer.ok);
    assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(answers)}`);
    const winner = agents[answers.indexOf(winners[0])];
    for (const answer of answers.filter((a) => !a.ok)) {
      assert.equal(answer.code, 'ELOCKED', answer.message);
      assert.equal(answer.pid, winner.pid, `round ${round}: ${answer.message}`);
    }
    assert.equal(fs.readFileSync(file, 'utf8'), `${winner.pid}\n`);
    assert.deepEqual(await winner.ask({ op: 'release' }), { ok: true });
    assert.equal(fs.existsSync(file), false);
  }
  // Nothing left beside the PID file: no drafts, no guard.
  assert.deepEqual(fs.readdirSync(path.dirname(file)), []);
});

test('PID reuse: a live process that started after the file was written does not hold it', { ...TIMEOUT, skip: !startTimes && 'start times come from /proc or GetProcessTimes' }, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'reused.pid');
  const { child: sleeper, commandLine } = await startSleeper(t);
  fs.writeFileSync(file, `${sleeper.pid}\n`);
  // Written an hour before that process started: the PID was reused.
  backdate(file, new Date(Date.now() - 3600_000));
  const { lines, logger } = recorder();
  const held = acquireSync(file, { ...pidfile, logger });
  assert.equal(readPid(file), process.pid);
  assert.ok(lines.includes(`info: took over ${file}: PID ${sleeper.pid} was reused: that process started after the file was written`), lines.join('\n'));
  held.release();

  // The same live PID written after it started is a holder.
  fs.writeFileSync(file, `${sleeper.pid}\n`);
  assert.throws(() => acquireSync(file, pidfile), { code: 'ELOCKED', pid: sleeper.pid });
  assert.equal(readPid(file), sleeper.pid);
  const status = inspectSync(file, pidfile);
  assert.equal(status.locked, true);
  assert.equal(status.pid, sleeper.pid);
  assert.equal(status.commandLine, commandLine); // from /proc; not told on Windows
  assert.ok(status.startedAt.getTime() <= fs.statSync(file).mtimeMs, 'started before the file was written');
});

test("a container's PID 1, always alive, does not hold a file written before it started", { ...TIMEOUT, skip: !linux && 'start times come from /proc' }, (t) => {
  const file = path.join(tempDir(t), 'one.pid');
  fs.writeFileSync(file, '1\n');
  backdate(file, new Date('2001-09-09T01:46:40Z')); // before this machine booted
  const held = acquireSync(file, pidfile);
  assert.equal(readPid(file), process.pid);
  held.release();
});

test('an empty file from a holder killed between create and write: given its grace, then taken over', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'empty.pid');
  // The holder creates the file, as an exclusive create does, and dies before writing.
  run(process.execPath, ['-e', "require('fs').writeFileSync(process.argv[1], ''); process.kill(process.pid, 'SIGKILL')", file]);
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  const createdMs = fs.statSync(file).mtimeMs;
  const held = await acquire(file, pidfile);
  assert.ok(Date.now() - createdMs >= 500, 'not before the grace of an empty file ran out');
  assert.equal(readPid(file), process.pid);
  held.release();
});

test('an empty file whose holder writes its PID within the grace is respected', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'settling.pid');
  const { child: holder } = await startSleeper(t);
  fs.writeFileSync(file, '');
  let settling;
  const seen = new Promise((resolve) => {
    settling = resolve;
  });
  const logger = { ...recorder().logger, debug: (message) => message.includes('settling') && settling() };
  const attempt = acquire(file, { ...pidfile, logger });
  await seen; // the acquirer is looking at the empty file and waiting for its PID
  fs.writeFileSync(file, `${holder.pid}\n`);
  await assert.rejects(attempt, { code: 'ELOCKED', pid: holder.pid });
  assert.equal(readPid(file), holder.pid);
});

test('a corrupted or hostile file is stale; a directory is never replaced', (t) => {
  const dir = tempDir(t);
  for (const contents of ['garbage', '-1\n', '0\n', '99999999999\n', Buffer.from([0, 1, 2, 255])]) {
    const file = path.join(dir, 'corrupt.pid');
    fs.writeFileSync(file, contents);
    const held = acquireSync(file, pidfile);
    assert.equal(readPid(file), process.pid);
    held.release();
  }
  fs.mkdirSync(path.join(dir, 'dir.pid'));
  assert.throws(() => acquireSync(path.join(dir, 'dir.pid'), pidfile), { code: 'EISDIR' });
  assert.deepEqual(fs.readdirSync(dir), ['dir.pid']);
});

test('a symlink or a FIFO at the path is never replaced', { skip: process.platform === 'win32' && 'POSIX file types' }, (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, 'target');
  fs.writeFileSync(target, 'precious\n');
  fs.symlinkSync(target, path.join(dir, 'link.pid'));
  assert.throws(() => acquireSync(path.join(dir, 'link.pid'), pidfile), { code: 'ELOOP' });
  assert.equal(fs.readFileSync(target, 'utf8'), 'precious\n');
  assert.equal(fs.lstatSync(path.join(dir, 'link.pid')).isSymbolicLink(), true);
  assert.equal(run('mkfifo', [path.join(dir, 'fifo.pid')]).status, 0);
  assert.throws(() => acquireSync(path.join(dir, 'fifo.pid'), pidfile), { code: 'EINVAL' });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['fifo.pid', 'link.pid', 'target']);
});

test("mode 'pidfile' has no shared or plain file locks: ENOTSUP, and nothing is touched", async (t) => {
  const file = path.join(tempDir(t), 'data.json');
  assert.throws(() => acquireSync(file, { ...pidfile, shared: true }), { code: 'ENOTSUP', path: file });
  assert.throws(() => lockSync(file, { ...pidfile, create: true }), { code: 'ENOTSUP' });
  await assert.rejects(lock(file, { ...pidfile, create: true }), { code: 'ENOTSUP' });
  assert.equal(fs.existsSync(file), false);
});

test("waiting in mode 'pidfile' polls until the holder goes, or until the time runs out", TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'wait.pid');
  const [holder] = await startAgents(t, 1);
  assert.equal((await holder.ask({ op: 'acquire', path: file, options: pidfile })).ok, true);
  await assert.rejects(acquire(file, { ...pidfile, wait: 100 }), (error) => error instanceof LockedError && error.pid === holder.pid);
  const controller = new AbortController();
  const aborted = acquire(file, { ...pidfile, wait: true, signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, { name: 'AbortError' });
  const waiting = acquire(file, { ...pidfile, wait: 30_000 });
  holder.kill('SIGKILL'); // its file stays, with its PID: stale once the process is gone
  const held = await waiting;
  assert.equal(readPid(file), process.pid);
  held.release();
});

// --- A real file system without locks -------------------------------------------------------

const fuseSkip = process.platform !== 'linux' ? 'FUSE on Linux'
  : process.getuid() !== 0 ? 'mounting FUSE needs root'
  : !fs.existsSync('/dev/fuse') ? 'no /dev/fuse'
  : run('/usr/bin/python3', ['-c', 'import fusepy']).status !== 0 ? "no python3-fusepy (Debian's package; .ci/run installs it)"
  : false;

/** Mounts test/fixtures/nolock-fs.py over a new directory; unmounted when `t` ends. */
async function mountNoLockFs(t, ...flags) {
  const env = typeof flags[0] === 'object' ? { ...process.env, ...flags.shift() } : process.env;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-fuse-'));
  const backing = path.join(dir, 'backing');
  const mount = path.join(dir, 'mnt');
  fs.mkdirSync(backing);
  fs.mkdirSync(mount);
  const daemon = spawn('/usr/bin/python3', [path.join(here, 'fixtures', 'nolock-fs.py'), ...flags, backing, mount], { stdio: ['ignore', 'pipe', 'inherit'], env });
  // One hook, in this order: the directory cannot be removed while mounted.
  t.after(() => {
    run('umount', ['-l', mount]);
    daemon.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await new Promise((resolve, reject) => {
    daemon.stdout.once('data', resolve);
    daemon.once('exit', (code) => reject(new Error(`nolock-fs exited ${code}`)));
  });
  return { mount, backing };
}

test("mode 'auto' falls back where the file system refuses locks, with one warning; 'kernel' fails", { ...TIMEOUT, skip: fuseSkip }, async (t) => {
  const { mount, backing } = await mountNoLockFs(t);
  const file = path.join(mount, 'app.pid');
  assert.equal(run('flock', ['--nonblock', file, 'true']).status !== 0, true, 'flock(1) is refused there');
  fs.rmSync(path.join(backing, 'app.pid'), { force: true });

  assert.throws(() => acquireSync(file, { mode: 'kernel' }), (error) => {
    assert.equal(error.code, 'ENOLCK');
    assert.match(error.message, new RegExp(`^ENOLCK: .*flock '${file}'`));
    return true;
  });
  assert.equal(fs.existsSync(file), false, 'the file made for the refused lock was removed');
  assert.throws(() => lockSync(file, { create: true }), { code: 'ENOLCK' }, 'plain locks have no fallback');

  const { lines, logger } = recorder();
  const held = acquireSync(file, { logger });
  assert.equal(held.mode, 'pidfile');
  assert.equal(readPid(file), process.pid);
  const warnings = lines.filter((line) => line.startsWith('warn:'));
  assert.deepEqual(warnings, [`warn: ${mount}: the file system refuses locks (ENOLCK); using PID files with stale-PID detection there`]);

  const [other] = await startAgents(t, 1);
  const refused = await other.ask({ op: 'acquire', path: file });
  assert.equal(refused.code, 'ELOCKED');
  assert.equal(refused.pid, process.pid);
  assert.deepEqual({ ...inspectSync(file), startedAt: undefined, commandLine: undefined }, {
    path: file, locked: true, pid: process.pid, holderProof: 'pid-file', recordedPid: process.pid, recordedPidHolds: true, exists: true,
    mode: 'pidfile', checkedBy: 'pid', alive: true, startedAt: undefined, commandLine: undefined,
  });
  held.release();
  assert.equal(fs.existsSync(file), false);
  acquireSync(file, { logger }).release();
  assert.equal(lines.filter((line) => line.startsWith('warn:')).length, 1, 'warned once');
});

test('on a file system without locks or hard links, 16 processes at once: one holder', { ...TIMEOUT, skip: fuseSkip }, async (t) => {
  const { mount } = await mountNoLockFs(t, '--no-links');
  const file = path.join(mount, 'storm.pid');
  const agents = await startAgents(t, 16);
  for (let round = 1; round <= 3; round += 1) {
    const answers = await Promise.all(agents.map((agent) => agent.ask({ op: 'acquire', path: file })));
    const winners = answers.filter((answer) => answer.ok);
    assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(answers)}`);
    const winner = agents[answers.indexOf(winners[0])];
    for (const answer of answers.filter((a) => !a.ok)) assert.equal(answer.pid, winner.pid, answer.message);
    assert.equal(readPid(file), winner.pid);
    winner.kill('SIGKILL'); // the next round starts from its stale file
    await winner.exited;
    agents.splice(agents.indexOf(winner), 1);
  }
});

test('failOpen: a lock that cannot be taken gives an unheld handle and a warning; contention still fails', async (t) => {
  const dir = tempDir(t);
  const { lines, logger } = recorder();
  const missing = path.join(dir, 'no-such-dir', 'app.pid');
  const handle = acquireSync(missing, { ...pidfile, failOpen: true, logger });
  assert.equal(handle.held, false);
  assert.equal(handle.mode, 'pidfile');
  handle.release();
  assert.ok(lines.includes(`warn: running without the lock on ${missing} (failOpen): ENOENT: no such file or directory, open '${missing}'`), lines.join('\n'));
  const kernelHandle = await acquire(missing, { mode: 'kernel', failOpen: true, logger });
  assert.equal(kernelHandle.held, false);
  assert.equal(kernelHandle.mode, 'kernel');

  const file = path.join(dir, 'app.pid');
  const held = acquireSync(file, pidfile);
  assert.throws(() => acquireSync(file, { ...pidfile, failOpen: true }), { code: 'ELOCKED' });
  held.release();
});

test('a takeover removes the drafts of processes that died mid-acquire, and only those', TIMEOUT, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'app.pid');
  const { child: sleeper } = await startSleeper(t);
  const draft = (pid) => path.join(dir, `.app.pid.${os.hostname()}.${pid}.1.pidguard`);
  const dead = deadPid();
  fs.writeFileSync(draft(dead), `${dead}\n`);
  fs.writeFileSync(draft(sleeper.pid), `${sleeper.pid}\n`);
  fs.writeFileSync(path.join(dir, `.app.pid.another-host.${dead}.1.pidguard`), `${dead}\n`);
  fs.writeFileSync(file, `${dead}\n`); // the stale PID file its death left
  const held = acquireSync(file, pidfile);
  assert.deepEqual(fs.readdirSync(dir).sort(), [`.app.pid.${os.hostname()}.${sleeper.pid}.1.pidguard`, '.app.pid.another-host.' + dead + '.1.pidguard', 'app.pid'].sort());
  held.release();
});

// --- Full disks, claims and leftovers --------------------------------------------------------

const isRoot = process.platform === 'linux' && process.getuid() === 0;

/** Mounts a tmpfs with `options` at a new directory, unmounted when `t` ends. */
function mountTmpfs(t, options) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-mnt-'));
  assert.equal(run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status, 0, 'mount a tmpfs');
  t.after(() => {
    run('umount', ['-l', dir]);
    fs.rmdirSync(dir);
  });
  return dir;
}

/** Creates empty files in `dir` until the file system has no inode left for another. */
function useUpInodes(dir) {
  for (let i = 0; ; i += 1) {
    try {
      fs.writeFileSync(path.join(dir, `filler-${i}`), '');
    } catch (error) {
      assert.equal(error.code, 'ENOSPC');
      return;
    }
  }
}

/** The name of the `level`th claim on the version of `file` now there, holding `pid` (device, mtime in µs, PID). */
function claimOn(file, pid, level = 1) {
  const stat = fs.statSync(file, { bigint: true });
  return path.join(path.dirname(file), `.${path.basename(file)}.claim.${stat.dev}-${Math.round((Number(stat.mtimeNs) / 1e6) * 1000)}-${pid}.${level}`);
}

test('a release on a file system with no inode left still removes the PID file', { skip: !isRoot && 'needs root to mount a tmpfs' }, (t) => {
  const dir = mountTmpfs(t, 'nr_inodes=16');
  const file = path.join(dir, 'app.pid');
  const { lines, logger } = recorder();
  const held = acquireSync(file, { ...pidfile, logger });
  useUpInodes(dir);
  held.release();
  assert.equal(fs.existsSync(file), false, lines.join('\n'));
  assert.deepEqual(lines.filter((line) => line.startsWith('warn:')), []);
  assert.deepEqual(fs.readdirSync(dir).filter((name) => !name.startsWith('filler-')), []);
});

/** Whether a hard link needs an inode of its own on a tmpfs, as Linux's counts each link against nr_inodes. */
function linksTakeInodes(t) {
  const dir = mountTmpfs(t, 'nr_inodes=2'); // the root directory and one file
  fs.writeFileSync(path.join(dir, 'file'), '');
  try {
    fs.linkSync(path.join(dir, 'file'), path.join(dir, 'link'));
    return false;
  } catch (error) {
    assert.equal(error.code, 'ENOSPC');
    return true;
  }
}

test('no room for a claim during a takeover: ENOSPC naming the PID file, and nothing left behind', { skip: !isRoot && 'needs root to mount a tmpfs' }, (t) => {
  if (!linksTakeInodes(t)) return t.skip("this kernel's tmpfs makes hard links without an inode, so a claim always has room");
  // The root directory, the stale file and a draft: a claim, a hard link, needs one inode more.
  const dir = mountTmpfs(t, 'nr_inodes=3');
  const file = path.join(dir, 'app.pid');
  fs.writeFileSync(file, `${deadPid()}\n`);
  assert.throws(() => acquireSync(file, pidfile), (error) => {
    assert.equal(error.code, 'ENOSPC', error.message);
    assert.equal(error.path, file);
    assert.match(error.message, new RegExp(`^ENOSPC: no space left on device, link '${file}'$`));
    return true;
  });
  assert.deepEqual(fs.readdirSync(dir), ['app.pid']);
});

test('a <file>.lock directory (the guard of earlier versions) holds nothing up', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  fs.writeFileSync(file, `${deadPid()}\n`);
  fs.mkdirSync(`${file}.lock`);
  const started = Date.now();
  const held = await acquire(file, { ...pidfile, wait: 200 });
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  held.release();
});

test('a stale file being taken over by a live claimer: wait and signal are honoured, and the claim is left alone', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const { child: claimer } = await startSleeper(t);
  const dead = deadPid();
  fs.writeFileSync(file, `${dead}\n`);
  const claim = claimOn(file, dead);
  fs.writeFileSync(claim, `${claimer.pid}\n`); // as a takeover stopped between its claim and its rename leaves it
  let started = Date.now();
  await assert.rejects(acquire(file, { ...pidfile, wait: 100 }), { code: 'ELOCKED', pid: null });
  assert.ok(Date.now() - started < 3000, `a wait of 100 ms took ${Date.now() - started} ms`);
  const controller = new AbortController();
  const waiting = acquire(file, { ...pidfile, wait: true, signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  started = Date.now();
  await assert.rejects(waiting, { name: 'AbortError' });
  assert.ok(Date.now() - started < 1000, `the abort took ${Date.now() - started} ms`);
  assert.equal(fs.readFileSync(file, 'utf8'), `${dead}\n`);
  assert.equal(fs.readFileSync(claim, 'utf8'), `${claimer.pid}\n`);
  // The claimer gone, its claim is passed over, and removed once the version it was on is gone.
  claimer.kill('SIGKILL');
  await new Promise((resolve) => claimer.once('exit', resolve));
  const held = acquireSync(file, pidfile);
  assert.equal(readPid(file), process.pid);
  held.release();
  assert.deepEqual(fs.readdirSync(path.dirname(file)), []);
});

test('a release meeting a live claim on its file leaves the file, which is stale once the holder is gone', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const [holder] = await startAgents(t, 1);
  const { child: claimer } = await startSleeper(t);
  assert.equal((await holder.ask({ op: 'acquire', path: file, options: pidfile })).ok, true);
  // A takeover that misjudged the holder (it would have to see its PID dead) holds the claim.
  const claim = claimOn(file, holder.pid);
  fs.writeFileSync(claim, `${claimer.pid}\n`);
  assert.deepEqual(await holder.ask({ op: 'release' }), { ok: true });
  assert.equal(readPid(file), holder.pid, 'left in place');
  holder.kill('SIGKILL');
  await holder.exited;
  claimer.kill('SIGKILL');
  await new Promise((resolve) => claimer.once('exit', resolve));
  const held = acquireSync(file, pidfile);
  held.release();
  assert.deepEqual(fs.readdirSync(path.dirname(file)), []);
});

test("inspect judges by the file system's clock, as acquire does: a skewed server neither hides a holder nor names a reused PID", { ...TIMEOUT, skip: fuseSkip }, async (t) => {
  for (const skew of [-30, 30]) {
    const { mount, backing } = await mountNoLockFs(t, { SKEW: String(skew) });
    const file = path.join(mount, 'svc.pid');
    // A live holder: 30 s behind, its file seems written 30 s before the holder started.
    const [holder] = await startAgents(t, 1);
    assert.equal((await holder.ask({ op: 'acquire', path: file, options: pidfile })).ok, true);
    const held = inspectSync(file, pidfile);
    assert.deepEqual([held.locked, held.pid], [true, holder.pid], `skew ${skew}: the holder is running`);
    await holder.ask({ op: 'release' });
    // A PID reused by an unrelated process started after the file was written: 30 s ahead, the
    // file seems written after it started.
    const { child: sleeper } = await startSleeper(t);
    fs.writeFileSync(path.join(backing, 'svc.pid'), `${sleeper.pid}\n`);
    const past = new Date(Date.now() - 5000);
    fs.utimesSync(path.join(backing, 'svc.pid'), past, past);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // FUSE's attribute cache
    const reused = inspectSync(file, pidfile);
    assert.deepEqual([reused.locked, reused.pid], [false, null], `skew ${skew}: a reused PID is not a holder`);
    fs.rmSync(path.join(backing, 'svc.pid'));
  }
});
