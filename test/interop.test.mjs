// The same lock seen from tools nobody here wrote: util-linux flock(1), Python's fcntl.flock,
// and the shell tools that read PID files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { acquire, acquireSync, inspectSync, LockedError, readPid } from 'pidguard';
import { flockCanTake, run, startHolder, tempDir } from './helpers.mjs';

const posixOnly = { skip: process.platform === 'win32' && 'POSIX tools', timeout: 30_000 };

test('flock(1) cannot take a file pidguard holds, and can once it is released', posixOnly, (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const lock = acquireSync(file);
  assert.equal(flockCanTake(file), false);
  assert.equal(run('flock', ['--shared', '--nonblock', file, 'true']).status, 1);
  lock.release();
  assert.equal(flockCanTake(file), true);
});

test('pidguard cannot take a file flock(1) holds, names flock as the holder, and touches nothing', posixOnly, async (t) => {
  const file = path.join(tempDir(t), 'held-by-flock');
  fs.writeFileSync(file, 'data that is not ours\n');
  const { child } = await startHolder(t, 'flock', ['--exclusive', file, '-c', 'echo held; exec sleep 30']);
  assert.throws(() => acquireSync(file), (error) => {
    assert.ok(error instanceof LockedError);
    // The file holds no PID, so the kernel's record (Linux) names the process that took the lock.
    assert.equal(error.pid, process.platform === 'linux' ? child.pid : null);
    return true;
  });
  await assert.rejects(acquire(file), { code: 'ELOCKED' });
  assert.equal(fs.readFileSync(file, 'utf8'), 'data that is not ours\n');
  const status = inspectSync(file);
  assert.equal(status.locked, true);
  assert.equal(status.recordedPid, null);
});

test('a holder that locked but has not written its PID is named once the grace runs out', posixOnly, async (t) => {
  // flock(1) creates the file empty, just like a pidguard holder between its lock and its write.
  const file = path.join(tempDir(t), 'empty.pid');
  const { child } = await startHolder(t, 'flock', ['--exclusive', file, '-c', 'echo held; exec sleep 30']);
  const started = performance.now();
  assert.throws(() => acquireSync(file), { code: 'ELOCKED', pid: process.platform === 'linux' ? child.pid : null });
  assert.ok(performance.now() - started >= 100, 'the loser gives a silent holder its grace');
  assert.equal(fs.readFileSync(file, 'utf8'), '');
});

test('a PID left by a dead holder is not blamed: the kernel names the live one', { ...posixOnly, skip: process.platform !== 'linux' && 'needs /proc/locks' }, async (t) => {
  const file = path.join(tempDir(t), 'stale.pid');
  const gone = run('sh', ['-c', 'echo $$']); // a PID whose process has exited
  const deadPid = Number(gone.stdout);
  fs.writeFileSync(file, `${deadPid}\n`);
  const { child } = await startHolder(t, 'flock', ['--exclusive', file, '-c', 'echo held; exec sleep 30']);
  assert.throws(() => acquireSync(file), { code: 'ELOCKED', pid: child.pid });
  assert.equal(fs.readFileSync(file, 'utf8'), `${deadPid}\n`, 'the file is not ours to touch');
});

test("Python's fcntl.flock sees pidguard's lock, and pidguard sees Python's", posixOnly, async (t) => {
  const file = path.join(tempDir(t), 'py.pid');
  const lock = acquireSync(file);
  const attempt = run('python3', ['-c', [
    'import fcntl, sys',
    'f = open(sys.argv[1], "r")',
    'try:',
    '    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)',
    'except BlockingIOError:',
    '    print("held")',
    'else:',
    '    print("free")',
  ].join('\n'), file]);
  assert.equal(attempt.stdout.trim(), 'held');
  lock.release();

  const { child } = await startHolder(t, 'python3', ['-u', '-c', [
    'import fcntl, os, sys, time',
    'f = open(sys.argv[1], "w")',
    'fcntl.flock(f, fcntl.LOCK_EX)',
    'f.write(str(os.getpid()) + "\\n"); f.flush()',
    'print("held")',
    'time.sleep(30)',
  ].join('\n'), file]);
  assert.throws(() => acquireSync(file), { code: 'ELOCKED', pid: child.pid });
});

test('shell tools read the PID file: cat, kill -0, pgrep -F', posixOnly, (t) => {
  const file = path.join(tempDir(t), 'shell.pid');
  const lock = acquireSync(file);
  t.after(() => lock.release());
  assert.equal(run('sh', ['-c', 'cat "$1"', 'sh', file]).stdout, `${process.pid}\n`);
  assert.equal(run('sh', ['-c', 'kill -0 "$(cat "$1")"', 'sh', file]).status, 0);
  const pgrep = run('pgrep', ['-F', file]);
  assert.equal(pgrep.status, 0, pgrep.stderr);
  assert.equal(pgrep.stdout.trim(), String(process.pid));
  assert.equal(readPid(file), process.pid);
});
