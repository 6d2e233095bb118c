// Waiting for a lock: handoff, timeouts, aborts, many waiters, and what a wait must not hold.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { acquire, acquireSync, LockedError } from 'pidguard';
import { here, openDescriptorCount, startAgents, tempDir, waitThreadCount } from './helpers.mjs';

const TIMEOUT = { timeout: 60_000 };
/** Linux lists blocked lock waiters in /proc/locks and a process's threads in /proc/self/task. */
const procfs = process.platform === 'linux';
const linuxOnly = { ...TIMEOUT, skip: !procfs && 'counts wait threads in /proc' };
const pidguardEntry = fileURLToPath(import.meta.resolve('pidguard'));


/** Blocked flock waiters on `file`, as the kernel lists them. */
function blockedWaiters(file) {
  const { ino } = fs.statSync(file, { bigint: true });
  return fs.readFileSync('/proc/locks', 'utf8').split('\n')
    .filter((line) => line.includes('->') && line.includes('FLOCK') && line.trim().endsWith(`:${ino} 0 EOF`)).length;
}

/**
 * Resolves once the kernel lists `count` waiters blocked on `file`: a barrier on kernel evidence.
 * Elsewhere (Windows lists no waiters) it resolves at once: each waiter has started its wait
 * thread by then, and what these tests assert holds whether or not that thread is blocked yet.
 */
async function untilBlocked(file, count) {
  if (!procfs) return;
  while (blockedWaiters(file) < count) await new Promise((resolve) => setTimeout(resolve, 5));
}

test('a waiter gets the lock the moment the holder releases it', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'handoff.pid');
  const holder = acquireSync(file);
  const [asyncWaiter] = await startAgents(t, 1);
  assert.deepEqual(await asyncWaiter.ask({ op: 'acquireAsync', path: file, options: { wait: true } }), { waiting: true });
  await untilBlocked(file, 1);
  holder.release();
  assert.deepEqual(await asyncWaiter.next(), { ok: true, pid: asyncWaiter.pid });
  assert.equal(fs.readFileSync(file, 'utf8'), `${asyncWaiter.pid}\n`);
});

test('a sync waiter gets the lock when the holder is SIGKILLed', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'killed.pid');
  const [holder, waiter] = await startAgents(t, 2);
  assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
  const answer = waiter.ask({ op: 'acquire', path: file, options: { wait: true } });
  await untilBlocked(file, 1);
  holder.kill('SIGKILL');
  assert.deepEqual(await answer, { ok: true, pid: waiter.pid });
  assert.equal(fs.readFileSync(file, 'utf8'), `${waiter.pid}\n`);
});

for (const style of ['async', 'sync']) {
  test(`8 ${style} waiters: each gets the lock exactly once, never two at a time`, TIMEOUT, async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'queue.pid');
    const journal = path.join(dir, 'journal');
    const holder = acquireSync(file);
    const waiters = Array.from({ length: 8 }, () => {
      const child = spawn(process.execPath, [path.join(here, 'fixtures', 'waiter.mjs'), file, journal, style], { stdio: ['ignore', 'pipe', 'inherit'] });
      t.after(() => child.kill('SIGKILL'));
      return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    });
    await untilBlocked(file, 8);
    holder.release();
    assert.deepEqual(await Promise.all(waiters), Array(8).fill(0));
    const entries = fs.readFileSync(journal, 'utf8').trim().split('\n');
    assert.equal(entries.length, 16);
    const entered = new Set();
    for (let i = 0; i < entries.length; i += 2) {
      const [enter, pid] = entries[i].split(' ');
      assert.deepEqual([enter, entries[i + 1]], ['enter', `leave ${pid}`], `line ${i + 1}`);
      assert.ok(!entered.has(pid), `${pid} got the lock twice`);
      entered.add(pid);
    }
    assert.equal(entered.size, 8);
  });
}

test('a timed wait ends with LockedError naming the holder', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'timeout.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  await assert.rejects(acquire(file, { wait: 50 }), (error) => error instanceof LockedError && error.pid === holder.pid);
  assert.throws(() => acquireSync(file, { wait: 50 }), (error) => error instanceof LockedError && error.pid === holder.pid);
  assert.equal(fs.readFileSync(file, 'utf8'), `${holder.pid}\n`);
});

test('a wait that timed out never takes the lock afterwards', TIMEOUT, async (t) => {
  // Where the blocked lock call cannot be interrupted (Wine), a timed-out wait's thread stays
  // queued in the kernel; when granted it must give the lock straight back.
  const file = path.join(tempDir(t), 'gave-up.pid');
  const [holder, waiter] = await startAgents(t, 2);
  await holder.ask({ op: 'acquire', path: file });
  const sync = await waiter.ask({ op: 'acquire', path: file, options: { wait: 100 } });
  assert.deepEqual([sync.ok, sync.code, sync.pid], [false, 'ELOCKED', holder.pid]);
  assert.deepEqual(await waiter.ask({ op: 'acquireAsync', path: file, options: { wait: 100 } }), { waiting: true });
  const async = await waiter.next();
  assert.deepEqual([async.ok, async.code, async.pid], [false, 'ELOCKED', holder.pid]);
  await holder.ask({ op: 'release' });
  for (let round = 0; round < 3; round += 1) {
    const lock = await acquire(file, { wait: 10_000 });
    assert.equal(fs.readFileSync(file, 'utf8'), `${process.pid}\n`);
    lock.release();
  }
  const { status } = await waiter.ask({ op: 'inspect', path: file });
  assert.notEqual(status.pid, waiter.pid);
  assert.equal(waiter.child.exitCode, null, 'the waiter lives on, holding nothing');
});

test('an abort ends a wait with the signal\'s reason; an aborted signal fails at once', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'abort.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const controller = new AbortController();
  const waiting = acquire(file, { wait: true, signal: controller.signal });
  controller.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  const reason = new Error('shutting down');
  await assert.rejects(acquire(file, { wait: true, signal: AbortSignal.abort(reason) }), (error) => error === reason);
  const timed = acquire(file, { wait: true, signal: AbortSignal.timeout(20) });
  await assert.rejects(timed, { name: 'TimeoutError' });
});

test('cancelled waits leave no thread and no descriptor behind', linuxOnly, async (t) => {
  const file = path.join(tempDir(t), 'cancel.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  acquireSync(path.join(tempDir(t), 'warm.pid')).release(); // load the addon before counting
  const descriptors = openDescriptorCount();
  for (let round = 0; round < 5; round += 1) {
    const controller = new AbortController();
    const waits = Array.from({ length: 8 }, () => acquire(file, { wait: true, signal: controller.signal }));
    await untilBlocked(file, 8);
    assert.equal(waitThreadCount(), 8, 'one thread per pending wait');
    controller.abort();
    const outcomes = await Promise.allSettled(waits);
    assert.ok(outcomes.every((o) => o.status === 'rejected' && o.reason.name === 'AbortError'));
    await assert.rejects(acquire(file, { wait: 1 }), { code: 'ELOCKED' });
    assert.throws(() => acquireSync(file, { wait: 1 }), { code: 'ELOCKED' });
  }
  assert.equal(waitThreadCount(), 0);
  assert.equal(openDescriptorCount(), descriptors);
  assert.equal(blockedWaiters(file), 0);
});

test('with 16 waits pending, an unrelated fs call still completes (no threadpool use)', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'pool.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const controller = new AbortController();
  const waits = Array.from({ length: 16 }, () => acquire(file, { wait: true, signal: controller.signal }).catch((e) => e));
  await untilBlocked(file, 16);
  // libuv's threadpool has 4 threads: had the waits taken them, this would never complete.
  const text = await fs.promises.readFile(fileURLToPath(import.meta.url), 'utf8');
  assert.match(text, /unrelated fs call/);
  controller.abort();
  for (const outcome of await Promise.all(waits)) assert.equal(outcome.name, 'AbortError');
});

test('process.exit() with waits pending exits at once', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'exit.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const child = spawn(process.execPath, ['-e', `
    const { acquire } = require(${JSON.stringify(pidguardEntry)});
    for (let i = 0; i < 4; i += 1) acquire(process.argv[1], { wait: true });
    process.stdout.write('waiting\\n');
    process.stdin.once('data', () => process.exit(7));`, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.stdout.once('data', resolve));
  await untilBlocked(file, 4);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  child.stdin.write('exit\n');
  assert.equal(await exited, 7);
});

test('a pending wait keeps the process alive until it is granted', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'alive.pid');
  const holder = acquireSync(file);
  const child = spawn(process.execPath, ['-e', `
    const { acquire } = require(${JSON.stringify(pidguardEntry)});
    acquire(process.argv[1], { wait: true }).then((lock) => console.log('granted', lock.pid));`, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (data) => (output += data));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  await untilBlocked(file, 1);
  holder.release();
  assert.equal(await exited, 0);
  assert.equal(output, `granted ${child.pid}\n`);
});

test('worker.terminate() with a wait pending returns and leaks nothing', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'worker.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  acquireSync(path.join(tempDir(t), 'warm.pid')).release();
  const descriptors = openDescriptorCount();
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const { acquire } = require('pidguard');
    acquire(workerData, { wait: true });
    acquire(workerData, { wait: true });
    parentPort.postMessage('waiting');`, { eval: true, workerData: file });
  await new Promise((resolve) => worker.once('message', resolve));
  await untilBlocked(file, 2);
  await worker.terminate();
  if (procfs) {
    assert.equal(blockedWaiters(file), 0);
    assert.equal(openDescriptorCount(), descriptors);
    assert.equal(waitThreadCount(), 0);
  }
  // Everywhere: the holder still has it, and once it lets go nothing of the worker's is in the way.
  assert.throws(() => acquireSync(file), { code: 'ELOCKED', pid: holder.pid });
  await holder.ask({ op: 'release' });
  acquireSync(file).release();
});

const THIRTY_DAYS_MS = 30 * 86_400_000;

/**
 * Resolves once `file` has a blocked waiter or `isSettled()` says the wait already ended.
 * Elsewhere (Windows lists no waiters) after a few turns of the event loop, in which a wait whose
 * timer fired at once would have settled.
 */
async function untilBlockedOrSettled(file, isSettled) {
  if (!procfs) {
    for (let turn = 0; turn < 10 && !isSettled(); turn += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    return;
  }
  while (!isSettled() && blockedWaiters(file) < 1) await new Promise((resolve) => setTimeout(resolve, 5));
}

test('a wait of 2^31 ms or more waits (Node\'s own timers would fire at once)', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'long.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const controller = new AbortController();
  let settled = false;
  const wait = acquire(file, { wait: THIRTY_DAYS_MS, signal: controller.signal }).finally(() => {
    settled = true;
  });
  await untilBlockedOrSettled(file, () => settled);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'the wait ended while the lock was still held');
  controller.abort();
  await assert.rejects(wait, { name: 'AbortError' });
  // The longest wait there is, and a watch interval past Node's timers, are refused or honoured as documented.
  await holder.ask({ op: 'release' });
  const lock = await acquire(file, { wait: Number.MAX_SAFE_INTEGER });
  assert.throws(() => lock.watch(2 ** 31), { code: 'ERR_INVALID_ARG_VALUE' });
  lock.watch(2 ** 31 - 1);
  lock.release();
});

test('pidguard wait -t and run -w of 30 days wait for the holder', { ...TIMEOUT, skip: !procfs && 'barrier on /proc/locks' }, async (t) => {
  const file = path.join(tempDir(t), 'cli-long.pid');
  const bin = path.join(here, '..', 'bin', 'pidguard.js');
  for (const args of [['wait', '-t', '2592000', file], ['run', '-w', '2592000', file, '--', 'true']]) {
    const [holder] = await startAgents(t, 1);
    await holder.ask({ op: 'acquire', path: file });
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let status = null;
    const exited = new Promise((resolve) => child.once('close', (code) => resolve((status = code))));
    await untilBlockedOrSettled(file, () => status !== null);
    assert.equal(status, null, `pidguard ${args[0]} gave up while the lock was held`);
    await holder.ask({ op: 'release' });
    assert.equal(await exited, 0, `pidguard ${args.join(' ')}`);
  }
});

// The test above sends its signal once the wait is blocked; this one asks whether the exit hook is
// ever still on while the wait can block. Were the hook taken off only after the wait's thread
// started, a SIGTERM in between would be queued for an event loop that the blocked thread never
// turns (seen under qemu, where that in-between lasts long enough to hit).
test('acquireSync({ wait: true }) takes the exit hook off before its wait can block', { ...TIMEOUT, skip: !procfs && 'reads /proc/locks' }, async (t) => {
  const dir = tempDir(t);
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: path.join(dir, 'b.pid') });
  const child = spawn(process.execPath, ['-e', `
    const fs = require('node:fs');
    const path = require('node:path');
    const { acquireSync } = require(${JSON.stringify(pidguardEntry)});
    const target = path.join(process.argv[1], 'b.pid');
    acquireSync(path.join(process.argv[1], 'a.pid')); // pidguard's exit hook is on from here
    const blockedHere = () => {
      const ino = fs.statSync(target).ino;
      return fs.readFileSync('/proc/locks', 'utf8').split('\\n')
        .some((line) => line.includes('->') && line.includes(' ' + process.pid + ' ') && line.trim().endsWith(':' + ino + ' 0 EOF'));
    };
    // The moment the hook's SIGTERM listener goes: is a wait of this process already blocked?
    // Given a second to show up, a wait thread started before this point would be.
    const removeListener = process.removeListener;
    process.removeListener = function (name, listener) {
      if (name === 'SIGTERM') {
        const until = Date.now() + 1000;
        let blocked = blockedHere();
        while (!blocked && Date.now() < until) blocked = blockedHere();
        console.log(blocked ? 'blocked while hooked' : 'unhooked first');
      }
      return removeListener.call(this, name, listener);
    };
    try { acquireSync(target, { wait: 2000 }); } catch (error) { console.log(error.code); }`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (data) => (output += data));
  const code = await new Promise((resolve) => child.once('close', resolve));
  assert.equal(code, 0);
  assert.equal(output, 'unhooked first\nELOCKED\n');
});

test('SIGTERM during acquireSync({ wait: true }) ends the process at once, even with another lock held', { ...TIMEOUT, skip: process.platform === 'win32' && 'POSIX signals' }, async (t) => {
  const dir = tempDir(t);
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: path.join(dir, 'b.pid') });
  const child = spawn(process.execPath, ['-e', `
    const path = require('node:path');
    const { acquireSync } = require(${JSON.stringify(pidguardEntry)});
    acquireSync(path.join(process.argv[1], 'a.pid')); // pidguard's exit hook is on from here
    console.log('waiting');
    acquireSync(path.join(process.argv[1], 'b.pid'), { wait: true });
    console.log('granted: the signal was not honoured');`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (data) => (output += data));
  await new Promise((resolve) => child.stdout.once('data', resolve));
  await untilBlocked(path.join(dir, 'b.pid'), 1);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  child.kill('SIGTERM');
  const outcome = await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting'))]);
  assert.equal(outcome, 'SIGTERM', 'the signal waited for the lock');
  await holder.ask({ op: 'release' });
  assert.equal(output, 'waiting\n');
});
