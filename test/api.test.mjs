// The API within one process: what acquire writes, what release removes, and the refusals.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { acquire, acquireSync, inspectSync, lockSync, LockedError, PidLock, readPid } from 'pidguard';
import { run, startAgents, tempDir } from './helpers.mjs';
import { lockIsFree, mode } from './mode.mjs';

test('acquireSync writes "<pid>\\n", holds the lock, and release removes the file', (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const lock = acquireSync(file);
  assert.ok(lock instanceof PidLock);
  assert.equal(lock.path, file);
  assert.equal(lock.pid, process.pid);
  assert.equal(lock.mode, mode);
  assert.equal(lock.held, true);
  assert.equal(fs.readFileSync(file, 'utf8'), `${process.pid}\n`);
  assert.equal(readPid(file), process.pid);
  assert.equal(lockIsFree(file), false);

  lock.release();
  assert.equal(lock.held, false);
  assert.equal(fs.existsSync(file), false);
  assert.equal(lockIsFree(file), true);
});

test('acquire resolves to a held lock, and the path is made absolute', async (t) => {
  const dir = tempDir(t);
  const relative = path.relative(process.cwd(), path.join(dir, 'async.pid'));
  const lock = await acquire(relative);
  t.after(() => lock.release());
  assert.equal(lock.path, path.join(dir, 'async.pid'));
  assert.equal(readPid(lock.path), process.pid);
});

test('release is idempotent and never removes a file it no longer holds', (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const lock = acquireSync(file);
  lock.release();
  const next = acquireSync(file);
  lock.release();
  lock.release();
  assert.equal(next.held, true);
  assert.equal(readPid(file), process.pid);
  assert.equal(lockIsFree(file), false);
  next.release();
});

test('release frees the path at once, even while another process has the file open to read it', async (t) => {
  // On Windows without POSIX delete semantics (and under Wine) a removed file keeps its name until
  // its last handle closes; pidguard moves it aside first, so the next holder gets a file of its own.
  // Also with a name of 240 characters (the name it is moved aside to must stay within 255) in a
  // path of over 260 (which Windows refuses unless given in the \\?\ form Node's fs uses).
  const dir = tempDir(t);
  const deep = path.join(dir, 'd'.repeat(100), 'e'.repeat(100));
  fs.mkdirSync(deep, { recursive: true });
  const [reader] = await startAgents(t, 1);
  const files = [path.join(dir, 'app.pid')];
  files.push(path.join(deep, `${'n'.repeat(236)}.pid`));
  for (const file of files) {
    const first = acquireSync(file);
    assert.deepEqual(await reader.ask({ op: 'open', path: file }), { ok: true });
    first.release();
    assert.equal(fs.existsSync(file), false);
    const second = acquireSync(file);
    assert.equal(second.verify(), true);
    assert.deepEqual(await reader.ask({ op: 'close' }), { ok: true });
    assert.equal(readPid(file), process.pid, 'the new file survives the reader letting go of the old one');
    assert.equal(second.verify(), true);
    second.release();
  }
});

test('Symbol.dispose and Symbol.asyncDispose release', async (t) => {
  const dir = tempDir(t);
  const first = acquireSync(path.join(dir, 'a.pid'));
  first[Symbol.dispose]();
  assert.equal(first.held, false);
  assert.equal(fs.existsSync(first.path), false);
  const second = await acquire(path.join(dir, 'b.pid'));
  await second[Symbol.asyncDispose]();
  assert.equal(second.held, false);
  assert.equal(fs.existsSync(second.path), false);
});

test('a second acquire in the same process is refused, naming this process', async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const lock = acquireSync(file);
  t.after(() => lock.release());
  assert.throws(() => acquireSync(file), (error) => {
    assert.ok(error instanceof LockedError);
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.pid, process.pid);
    assert.equal(error.path, file);
    assert.match(error.message, /already locked by this process/);
    return true;
  });
  await assert.rejects(acquire(file), { code: 'ELOCKED', pid: process.pid });
  // The refusals opened and closed descriptors of the file; the lock survives that.
  assert.equal(lockIsFree(file), false);
  assert.equal(readPid(file), process.pid);
});

test('a PID file left behind, whatever it holds, never stops a start and is overwritten', (t) => {
  const dir = tempDir(t);
  const leftovers = {
    stale: '999999\n',
    empty: '',
    corrupted: 'not a pid at all',
    negative: '-1\n',
    binary: Buffer.from([0, 255, 1, 254, 10]),
    huge: Buffer.alloc(4 * 1024 * 1024, '7'),
    longer: '1234567890123\n',
  };
  for (const [name, contents] of Object.entries(leftovers)) {
    const file = path.join(dir, `${name}.pid`);
    fs.writeFileSync(file, contents);
    assert.equal(readPid(file), name === 'stale' ? 999999 : null, `readPid(${name})`);
    const lock = acquireSync(file);
    assert.equal(fs.readFileSync(file, 'utf8'), `${process.pid}\n`, name);
    lock.release();
  }
});

test('readPid returns null for a missing file and a directory, and reads a PID', (t) => {
  const dir = tempDir(t);
  assert.equal(readPid(path.join(dir, 'missing.pid')), null);
  assert.equal(readPid(path.join(dir, 'no-such-dir', 'x.pid')), null);
  assert.equal(readPid(dir), null);
  const file = path.join(dir, 'app.pid');
  fs.writeFileSync(file, '1234\n');
  assert.equal(readPid(file), 1234);
});

test('readPid returns null for a FIFO and a symlink', { skip: process.platform === 'win32' && 'POSIX file types' }, (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, 'target');
  fs.writeFileSync(target, '1234\n');
  fs.symlinkSync(target, path.join(dir, 'link.pid'));
  assert.equal(readPid(path.join(dir, 'link.pid')), null);
  assert.equal(readPid(target), 1234);
  const fifo = path.join(dir, 'fifo');
  assert.equal(run('mkfifo', [fifo]).status, 0);
  assert.equal(readPid(fifo), null);
});

test('options are checked before anything is touched', async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  assert.throws(() => acquireSync(''), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => acquireSync(42), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => acquireSync('a\0b'), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => acquireSync(file, { mode: 'nonsense' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => acquireSync(file, { logger: {} }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(acquire(file, { wait: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(acquire(file, { wait: 'yes' }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(acquire(file, { shared: 1 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => acquireSync(file, { signal: new AbortController().signal }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.equal(fs.existsSync(file), false);
});

test('a logger option receives what happens', (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const lines = [];
  const logger = { debug: (m) => lines.push(m), info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
  acquireSync(file, { logger }).release();
  const how = mode === 'pidfile' ? ' (pidfile mode)' : '';
  assert.deepEqual(lines, [`locked ${file} as PID ${process.pid}${how}`, `released ${file}`]);
});

test('inspectSync reports a held, a free and a stale PID file', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'app.pid');
  assert.deepEqual(
    { ...inspectSync(file), checkedBy: undefined },
    {
      path: file, locked: false, pid: null, holderProof: null, recordedPid: null, recordedPidHolds: null, exists: false, mode,
      checkedBy: undefined, alive: null, startedAt: null, commandLine: null,
    },
  );
  const lock = acquireSync(file);
  const held = inspectSync(file);
  assert.equal(held.locked, true);
  assert.equal(held.pid, process.pid);
  assert.equal(held.recordedPid, process.pid);
  assert.equal(held.mode, mode);
  assert.equal(held.checkedBy, mode === 'pidfile' ? 'pid' : process.platform === 'linux' ? 'proc-locks' : 'probe');
  assert.equal(held.alive, true);
  if (process.platform === 'linux') {
    assert.equal(held.commandLine, [process.execPath, ...process.execArgv, ...process.argv.slice(1)].join(' '));
    // /proc counts in 10 ms ticks, and this process started before this test did.
    const started = held.startedAt.getTime();
    assert.ok(Math.abs(started - (performance.timeOrigin)) < 1000, `started at ${held.startedAt.toISOString()}`);
  }
  lock.release();
  fs.writeFileSync(file, '424242\n');
  const stale = inspectSync(file);
  assert.equal(stale.locked, false);
  assert.equal(stale.pid, null);
  assert.equal(stale.recordedPid, 424242);
  assert.equal(stale.exists, true);
  assert.equal(stale.alive, false);
  assert.equal(stale.commandLine, null);
});

/** watch() every 10 ms; resolves with the 'lost' error. Its timer does not hold the process open, so this does. */
function whenLost(t, lock) {
  const keepAlive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keepAlive));
  return new Promise((resolve) => lock.watch(10).once('lost', resolve));
}

test("verify() and watch(): a PID file removed while held is lost, and release spares the new file", {
  skip: process.platform === 'win32' && "Wine keeps a removed file's name until its last handle closes",
}, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'app.pid');
  const first = acquireSync(file);
  assert.equal(first.verify(), true);
  const lost = whenLost(t, first);
  fs.rmSync(file); // a cleanup script, say
  const error = await lost;
  assert.equal(error.code, 'ELOST');
  assert.equal(error.path, file);
  assert.equal(first.verify(), false);

  // The path is free for anyone now; the lost holder's release must leave the new file alone.
  const second = acquireSync(file);
  assert.equal(second.verify(), true);
  first.release();
  assert.equal(readPid(file), process.pid);
  assert.equal(second.verify(), true);
  assert.equal(lockIsFree(file), false);
  second.release();
});

test('verify() and watch(): a PID file replaced by a rename while held is lost, and the replacement survives release', {
  skip: process.platform === 'win32' && 'Wine refuses a rename over a file that is open',
}, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'app.pid');
  const held = acquireSync(file);
  const lost = whenLost(t, held);
  fs.writeFileSync(path.join(dir, 'other'), 'not yours\n');
  fs.renameSync(path.join(dir, 'other'), file);
  assert.equal((await lost).code, 'ELOST');
  assert.equal(held.verify(), false);
  held.release();
  assert.equal(fs.readFileSync(file, 'utf8'), 'not yours\n');
  assert.equal(held.verify(), false, 'false once released');
  assert.throws(() => held.watch(0), { code: 'ERR_INVALID_ARG_VALUE' });
});

test("a lost lock is not held: held turns false once the file is gone, and a 'lost' listener alone is told", {
  skip: process.platform === 'win32' && "Wine keeps a removed file's name until its last handle closes",
  timeout: 30_000,
}, async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const lock = acquireSync(file);
  assert.equal(lock.held, true);
  const keepAlive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keepAlive));
  // No watch(): listening for 'lost' is enough to be told.
  const lost = new Promise((resolve) => lock.once('lost', resolve));
  fs.rmSync(file); // an operator's rm, a tmp cleaner
  assert.equal(lock.held, false, 'held must tell the truth at once');
  const error = await Promise.race([lost, new Promise((resolve) => setTimeout(resolve, 10_000, null))]);
  assert.equal(error?.code, 'ELOST', "no 'lost' event came");
  assert.equal(lock.held, false);
  assert.equal(lock.verify(), false);
  // Another process takes the path; the lost holder's release leaves that file alone.
  const [other] = await startAgents(t, 1);
  assert.equal((await other.ask({ op: 'acquire', path: file })).ok, true);
  lock.release();
  assert.equal(readPid(file), other.pid);
});

test('a misspelled option is refused, naming the nearest one; undefined means not given', async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  assert.throws(() => acquireSync(file, { wiat: 5 }), { code: 'ERR_INVALID_ARG_VALUE', message: /options\.wiat is not an option of acquire\(\); did you mean wait\?/ });
  await assert.rejects(acquire(file, { failopen: true }), { code: 'ERR_INVALID_ARG_VALUE', message: /did you mean failOpen\?/ });
  // create and follow belong to lock() only.
  assert.throws(() => acquireSync(file, { create: true }), { code: 'ERR_INVALID_ARG_VALUE', message: /options\.create is not an option of acquire\(\)/ });
  assert.throws(() => lockSync(file, { crate: true }), { code: 'ERR_INVALID_ARG_VALUE', message: /did you mean create\?/ });
  const lock = acquireSync(file, { wait: undefined, signal: undefined, shared: undefined, mode: undefined, logger: undefined, failOpen: undefined, mkdir: undefined });
  assert.equal(lock.held, true);
  lock.release();
});

test('mkdir creates the missing directories, as mkdir -p does', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'run', 'app', 'app.pid');
  assert.throws(() => acquireSync(file), { code: 'ENOENT' });
  const lock = acquireSync(file, { mkdir: true });
  assert.equal(readPid(file), process.pid);
  if (process.platform !== 'win32') assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o755 & ~process.umask());
  lock.release();
  assert.equal(fs.existsSync(path.dirname(file)), true, 'the directories stay');
});

test('lock() follows a symlink to a data file (a ConfigMap mount), unless follow is false; acquire() never does', {
  skip: (process.platform === 'win32' && 'POSIX symlinks') || (mode === 'pidfile' && 'lock() has no fallback'),
}, async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, '..data', 'config.json');
  fs.mkdirSync(path.dirname(data));
  fs.writeFileSync(data, '{}\n');
  const link = path.join(dir, 'config.json');
  fs.symlinkSync(path.join('..data', 'config.json'), link);
  const held = lockSync(link);
  const [other] = await startAgents(t, 1);
  // The target is what is locked: another process locking the target itself is refused.
  assert.equal((await other.ask({ op: 'lock', path: data, options: { follow: false } })).code, 'ELOCKED');
  held.release();
  assert.equal(fs.readFileSync(data, 'utf8'), '{}\n');
  assert.throws(() => lockSync(link, { follow: false }), { code: 'ELOOP', message: /does not follow it there/ });
  assert.throws(() => acquireSync(link), { code: 'ELOOP' });
});
