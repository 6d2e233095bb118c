// Shared (reader) locks beside exclusive ones, and plain locks on data files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { acquire, acquireSync, lock, lockSync } from 'pidguard';
import { flockCanTake, run, startAgents, tempDir } from './helpers.mjs';

const TIMEOUT = { timeout: 30_000 };

test('shared holders coexist, write no PID, and keep an exclusive acquirer out', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'readers.pid');
  const [first, second] = await startAgents(t, 2);
  assert.equal((await first.ask({ op: 'acquire', path: file, options: { shared: true } })).ok, true);
  assert.equal((await second.ask({ op: 'acquire', path: file, options: { shared: true } })).ok, true);
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  assert.throws(() => acquireSync(file), { code: 'ELOCKED' });
  assert.equal(flockCanTake(file, { shared: true }), true, 'flock(1) -s joins the readers');

  const writer = acquire(file, { wait: true });
  await first.ask({ op: 'release' });
  await second.ask({ op: 'release' });
  const held = await writer;
  assert.equal(fs.readFileSync(file, 'utf8'), `${process.pid}\n`);
  held.release();
});

test('a shared acquirer waits out an exclusive holder, then leaves the file in place', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'writer.pid');
  const [writer] = await startAgents(t, 1);
  await writer.ask({ op: 'acquire', path: file });
  assert.throws(() => acquireSync(file, { shared: true }), { code: 'ELOCKED', pid: writer.pid });
  const reader = acquire(file, { shared: true, wait: true });
  await writer.ask({ op: 'release' });
  const held = await reader;
  assert.equal(held.shared, true);
  held.release();
  assert.equal(fs.existsSync(file), true, 'a shared holder never removes the file');
});

test('lock() takes the kernel lock on a data file without writing, truncating or removing it', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'data.json');
  fs.writeFileSync(file, '{"precious": true}\n');
  fs.chmodSync(file, 0o444); // read-only: flock needs no write access
  const held = await lock(file);
  assert.equal(flockCanTake(file), false);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"precious": true}\n');
  const [other] = await startAgents(t, 1);
  const refused = await other.ask({ op: 'lock', path: file });
  assert.equal(refused.code, 'ELOCKED');
  // The file holds data, not a PID: on Linux the kernel's record names this process.
  assert.equal(refused.pid, process.platform === 'linux' ? process.pid : null);
  held.release();
  assert.equal(fs.readFileSync(file, 'utf8'), '{"precious": true}\n');
  assert.equal(flockCanTake(file), true);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"precious": true}\n');
});

test('lockSync() refuses a missing file unless asked to create it', TIMEOUT, (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'missing.lock');
  assert.throws(() => lockSync(file), (error) => error.code === 'ENOENT' && error.message.includes(file));
  assert.equal(fs.existsSync(file), false);
  const held = lockSync(file, { create: true });
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  held.release();
  assert.equal(fs.existsSync(file), true);
});

test('lock() and lockSync() on a FIFO with no writer neither hang nor read from it', { ...TIMEOUT, skip: process.platform === 'win32' && 'POSIX file types' }, (t) => {
  const fifo = path.join(tempDir(t), 'queue');
  assert.equal(run('mkfifo', [fifo]).status, 0);
  // In a process of its own: an open that blocks would block this test's thread for good.
  const script = `
    const { lock, lockSync } = require('pidguard');
    const held = lockSync(process.argv[1]);
    held.release();
    lock(process.argv[1]).then((again) => { again.release(); console.log('locked twice'); });`;
  const result = run(process.execPath, ['-e', script, fifo], { timeout: 10_000 });
  assert.equal(result.signal, null, 'the open of the FIFO blocked');
  assert.equal(result.stdout.trim(), 'locked twice', result.stderr);
  assert.equal(fs.statSync(fifo).isFIFO(), true);
});

test('shared plain locks coexist; an exclusive one waits for them', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'table.db');
  fs.writeFileSync(file, 'rows');
  const [reader] = await startAgents(t, 1);
  assert.equal((await reader.ask({ op: 'lock', path: file, options: { shared: true } })).ok, true);
  const mine = lockSync(file, { shared: true });
  assert.throws(() => lockSync(file, { wait: 20 }), { code: 'ELOCKED' });
  mine.release();
  const exclusive = lock(file, { wait: true });
  await reader.ask({ op: 'release' });
  (await exclusive).release();
  assert.equal(fs.readFileSync(file, 'utf8'), 'rows');
});
