// PID files another user could have written, or could point elsewhere, are refused, never adopted:
// a stranger's file, one others can write, a second hard link, and a path through a symlink
// that another user owns. Each refusal is EPERM naming the path, and touches nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquire, acquireSync, inspect, inspectSync, lockSync, readPid } from 'pidguard';
import { openDescriptorCount, tempDir } from './helpers.mjs';

const pidguardEntry = fileURLToPath(import.meta.resolve('pidguard'));
const posix = process.platform !== 'win32';
const isRoot = posix && process.geteuid() === 0;
const NOBODY = 65534;
const asRoot = { skip: !isRoot && 'needs root to make files owned by another user', timeout: 30_000 };

/** Asserts that both acquire calls refuse `file` with EPERM and a message matching `why`, leaving no descriptor open. */
async function assertUntrusted(file, why) {
  const check = (error) => {
    assert.equal(error.code, 'EPERM', error.message);
    assert.equal(error.path, file);
    assert.ok(error.message.includes(file), error.message);
    assert.match(error.message, why);
    return true;
  };
  const descriptors = openDescriptorCount();
  assert.throws(() => acquireSync(file), check);
  await assert.rejects(acquire(file), check);
  await assert.rejects(acquire(file, { wait: 50 }), check);
  assert.equal(openDescriptorCount(), descriptors, 'no descriptor left open');
}

test("a PID file another user created is refused, and its text is left as that user wrote it", asRoot, async (t) => {
  const file = path.join(tempDir(t), 'svc.pid');
  fs.writeFileSync(file, '1\n');
  fs.chownSync(file, NOBODY, NOBODY);
  await assertUntrusted(file, /owned by uid 65534, not by this user \(uid 0\) or root/);
  assert.equal(fs.readFileSync(file, 'utf8'), '1\n');
  assert.equal(fs.statSync(file).uid, NOBODY);
});

test('a PID file that other users can write is refused, even when this user owns it', { skip: !posix && 'POSIX permissions' }, async (t) => {
  const dir = tempDir(t);
  const everyone = path.join(dir, 'everyone.pid');
  fs.writeFileSync(everyone, '1\n');
  fs.chmodSync(everyone, 0o666);
  await assertUntrusted(everyone, /writable by all users/);
  assert.equal(fs.readFileSync(everyone, 'utf8'), '1\n');
  if (isRoot) {
    const group = path.join(dir, 'group.pid');
    fs.writeFileSync(group, '1\n');
    fs.chownSync(group, 0, 100);
    fs.chmodSync(group, 0o664);
    await assertUntrusted(group, /writable by group 100/);
  }
});

test('a PID file with a second hard link is refused for a PID file, and the other name keeps its text', { skip: !posix && 'POSIX hard links' }, async (t) => {
  const dir = tempDir(t);
  const precious = path.join(dir, 'precious.conf');
  fs.writeFileSync(precious, 'keep me\n');
  const file = path.join(dir, 'svc.pid');
  fs.linkSync(precious, file);
  await assertUntrusted(file, /2 hard links/);
  assert.equal(fs.readFileSync(precious, 'utf8'), 'keep me\n');
  // lock() never writes: a data file may have as many names as it likes.
  lockSync(file).release();
  assert.equal(fs.readFileSync(precious, 'utf8'), 'keep me\n');
});

test("a path through another user's symlink is refused; the directory it points at is untouched", asRoot, async (t) => {
  const dir = tempDir(t);
  const secret = path.join(dir, 'root-only');
  fs.mkdirSync(secret, { mode: 0o700 });
  fs.writeFileSync(path.join(secret, 'svc.pid'), 'not a pid, but precious\n');
  // As in /tmp: nobody makes 'app' a symlink to a directory only root can write.
  const app = path.join(dir, 'app');
  fs.symlinkSync(secret, app);
  fs.lchownSync(app, NOBODY, NOBODY);
  await assertUntrusted(path.join(app, 'svc.pid'), /symlink .*app.* owned by uid 65534/);
  await assertUntrusted(path.join(app, 'new.pid'), /symlink .*app.* owned by uid 65534/);
  assert.equal(fs.readFileSync(path.join(secret, 'svc.pid'), 'utf8'), 'not a pid, but precious\n');
  assert.deepEqual(fs.readdirSync(secret), ['svc.pid']);
});

test("symlinks of root's or of this user's, as /var/run -> /run, are followed as before", { skip: !posix && 'POSIX symlinks' }, async (t) => {
  const dir = tempDir(t);
  const real = path.join(dir, 'run');
  fs.mkdirSync(real);
  fs.symlinkSync(real, path.join(dir, 'var-run'));
  // A relative link, and a chain of two.
  fs.symlinkSync('var-run', path.join(dir, 'chain'));
  for (const through of ['var-run', 'chain']) {
    const file = path.join(dir, through, 'svc.pid');
    const lock = acquireSync(file);
    assert.equal(fs.readFileSync(path.join(real, 'svc.pid'), 'utf8'), `${process.pid}\n`);
    assert.equal(lock.verify(), true);
    lock.release();
    assert.equal(fs.existsSync(path.join(real, 'svc.pid')), false);
  }
});

test('a symlink loop in the directories is ELOOP, not a hang', { skip: !posix && 'POSIX symlinks' }, async (t) => {
  const dir = tempDir(t);
  fs.symlinkSync(path.join(dir, 'b'), path.join(dir, 'a'));
  fs.symlinkSync(path.join(dir, 'a'), path.join(dir, 'b'));
  assert.throws(() => acquireSync(path.join(dir, 'a', 'svc.pid')), { code: 'ELOOP' });
});

test("root's own symlink, hard-linked into another user's directory, is not followed", asRoot, async (t) => {
  // Where fs.protected_hardlinks is off (the kernel's default), anyone may hard-link root's
  // /var/run -> /run into a directory of theirs: still root's link, but placed there by them.
  const dir = tempDir(t);
  const secret = path.join(dir, 'root-only');
  fs.mkdirSync(secret, { mode: 0o700 });
  fs.writeFileSync(path.join(secret, 'victim.pid'), 'not ours\n');
  const roots = path.join(dir, 'var-run');
  fs.symlinkSync(secret, roots); // root's, in root's directory: followed
  const theirs = path.join(dir, 'nobody');
  fs.mkdirSync(theirs);
  fs.chownSync(theirs, NOBODY, NOBODY);
  fs.linkSync(roots, path.join(theirs, 'run')); // link(2) does not follow: a second name of the link itself
  assert.equal(fs.lstatSync(path.join(theirs, 'run')).nlink, 2);
  await assertUntrusted(path.join(theirs, 'run', 'victim.pid'), /symlink .*nobody\/run, a second name of a trusted link, placed in a directory of uid 65534/);
  assert.equal(fs.readFileSync(path.join(secret, 'victim.pid'), 'utf8'), 'not ours\n');
  // The original, in root's directory, is still followed.
  acquireSync(path.join(roots, 'other.pid')).release();
});

test("status, stop and readPid refuse what acquire refuses: a path through another user's symlink, a stranger's fallback file", asRoot, async (t) => {
  const dir = tempDir(t);
  const real = path.join(dir, 'run');
  fs.mkdirSync(real);
  const held = acquireSync(path.join(real, 'svc.pid'));
  t.after(() => held.release());
  const app = path.join(dir, 'app');
  fs.symlinkSync(real, app);
  fs.lchownSync(app, NOBODY, NOBODY);
  const through = path.join(app, 'svc.pid');
  // No holder could ever hold this path, so nobody may be reported or signalled through it.
  assert.throws(() => readPid(through), { code: 'EPERM', message: /symlink .*app.* owned by uid 65534/ });
  assert.throws(() => inspectSync(through), { code: 'EPERM' });
  await assert.rejects(inspect(through), { code: 'EPERM' });
  // In mode 'pidfile' the file is the lock: a stranger's file naming a live process is not a holder.
  const stranger = path.join(dir, 'stranger.pid');
  fs.writeFileSync(stranger, `${process.pid}\n`);
  fs.chownSync(stranger, NOBODY, NOBODY);
  const seen = inspectSync(stranger, { mode: 'pidfile' });
  assert.deepEqual([seen.locked, seen.pid, seen.recordedPid], [false, null, process.pid]);
});

test("the fallback refuses a path through a directory another user could change under it", asRoot, async (t) => {
  // The fallback's steps (draft, link, rename, unlink) each resolve the path again: in a directory
  // of nobody's, nobody could swap 'app' for a symlink to a root-only directory between them.
  const dir = tempDir(t);
  const theirs = path.join(dir, 'race');
  fs.mkdirSync(path.join(theirs, 'app'), { recursive: true });
  fs.chownSync(theirs, NOBODY, NOBODY);
  const file = path.join(theirs, 'app', 'svc.pid');
  assert.throws(() => acquireSync(file, { mode: 'pidfile' }), { code: 'EPERM', message: /directory .*race is owned by uid 65534/ });
  const open = path.join(dir, 'open');
  fs.mkdirSync(open, { mode: 0o777 });
  fs.chmodSync(open, 0o777);
  assert.throws(() => acquireSync(path.join(open, 'svc.pid'), { mode: 'pidfile' }), { code: 'EPERM', message: /writable by other users without the sticky bit/ });
  // Sticky, as /tmp: others may remove only their own entries. And the kernel lock, whose every
  // step is taken from the directory it reached, takes both.
  fs.chmodSync(open, 0o1777);
  acquireSync(path.join(open, 'svc.pid'), { mode: 'pidfile' }).release();
  acquireSync(file, { mode: 'kernel' }).release();
  assert.deepEqual(fs.readdirSync(path.join(theirs, 'app')), []);
});

// A daemon is a session leader without a terminal; were pidguard to open a terminal device found
// at the path without O_NOCTTY, that terminal would become the daemon's controlling terminal, and
// a Ctrl-C or hangup on it would then reach the daemon. Every open is checked: the lock's, the
// PID file's, and the read side's.
test('a terminal at the path never becomes the controlling terminal of a session leader', { skip: process.platform !== 'linux' && 'reads /proc/self/stat', timeout: 30_000 }, () => {
  // Each call in a session of its own, so that one call's terminal does not hide the next's.
  const child = `
    const { acquireSync, inspectSync, lockSync, readPid } = require(${JSON.stringify(pidguardEntry)});
    const [call, terminal] = process.argv.slice(1);
    // Field 7 of /proc/self/stat, after the command name (which may hold spaces): tty_nr.
    const ttyOf = () => Number(require('node:fs').readFileSync('/proc/self/stat', 'latin1').split(') ')[1].split(' ')[4]);
    const before = ttyOf();
    const calls = { readPid: () => readPid(terminal), inspectSync: () => inspectSync(terminal),
      lockSync: () => lockSync(terminal).release(), acquireSync: () => acquireSync(terminal).release(),
      'acquireSync pidfile': () => acquireSync(terminal, { mode: 'pidfile' }).release() };
    try { calls[call](); } catch {}
    console.log(JSON.stringify([before, ttyOf()]));`;
  // python3 makes a pseudo-terminal and runs the child as a new session's leader (setsid), with
  // the terminal's path as its argument.
  const inPty = `
import os, pty, subprocess, sys
master, slave = pty.openpty()
name = os.ttyname(slave)
os.close(slave)
sys.exit(subprocess.run(['setsid', '-w', *sys.argv[1:], name]).returncode)`;
  const seen = {};
  for (const call of ['readPid', 'inspectSync', 'lockSync', 'acquireSync', 'acquireSync pidfile']) {
    const result = spawnSync('/usr/bin/python3', ['-c', inPty, process.execPath, '-e', child, call], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 0, result.stderr);
    seen[call] = JSON.parse(result.stdout);
  }
  const none = [0, 0]; // [before the call, after it]
  assert.deepEqual(seen, { readPid: none, inspectSync: none, lockSync: none, acquireSync: none, 'acquireSync pidfile': none });
});
