// Locks and waits in worker threads, when the worker or the whole process is torn down: nothing
// blocks the teardown, and no lock, file or thread of the worker's is left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { acquireSync } from 'pidguard';
import { flockCanTake, startAgents, tempDir, waitThreadCount } from './helpers.mjs';

const TIMEOUT = { timeout: 90_000 };
const linux = process.platform === 'linux';
const pidguardEntry = fileURLToPath(import.meta.resolve('pidguard'));

function blockedWaiters(file) {
  const { ino } = fs.statSync(file, { bigint: true });
  return fs.readFileSync('/proc/locks', 'utf8').split('\n')
    .filter((line) => line.includes('->') && line.includes('FLOCK') && line.trim().endsWith(`:${ino} 0 EOF`)).length;
}

async function untilBlocked(file) {
  if (!linux) return;
  while (blockedWaiters(file) < 1) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Resolves with whatever `promise` gives, or with `fallback` once `ms` have passed. */
function within(promise, ms, fallback) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms, fallback).unref())]);
}

const syncWaitWorker = `
  const { parentPort, workerData } = require('node:worker_threads');
  const { acquireSync } = require(${JSON.stringify(pidguardEntry)});
  parentPort.postMessage('waiting');
  acquireSync(workerData, { wait: true });
  parentPort.postMessage('granted');`;

test('worker.terminate() ends a worker blocked in acquireSync({ wait: true }) while the lock is still held', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'sync-wait.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const worker = new Worker(syncWaitWorker, { eval: true, workerData: file });
  await new Promise((resolve) => worker.once('message', resolve));
  await untilBlocked(file);
  const terminated = await within(worker.terminate().then(() => 'terminated'), 10_000, 'still blocked');
  assert.equal(terminated, 'terminated', 'terminate() waited for the lock to be granted');
  if (linux) assert.equal(blockedWaiters(file), 0);
  assert.equal(waitThreadCount() ?? 0, 0);
  await holder.ask({ op: 'release' });
  assert.equal(fs.existsSync(file), false, 'the terminated worker took the lock after all');
});

test('process.exit() on the main thread is not held up by a worker blocked in acquireSync({ wait: true })', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'exit.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const child = spawn(process.execPath, ['-e', `
    const { Worker } = require('node:worker_threads');
    const worker = new Worker(${JSON.stringify(syncWaitWorker)}, { eval: true, workerData: process.argv[1] });
    worker.once('message', () => console.log('waiting'));
    process.stdin.once('data', () => process.exit(7));`, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve));
  await untilBlocked(file);
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdin.write('exit\n');
  assert.equal(await within(exited, 10_000, 'still running'), 7, 'process.exit() waited for the lock');
  await holder.ask({ op: 'release' });
});

for (const style of ['async', 'sync']) {
  test(`a lock granted while its worker is torn down leaves no file and no lock behind (${style} wait)`, TIMEOUT, async (t) => {
    const file = path.join(tempDir(t), `${style}-grant.pid`);
    const take = style === 'sync'
      ? 'parentPort.postMessage("waiting"); acquireSync(workerData, { wait: true });'
      : 'acquire(workerData, { wait: true }); parentPort.postMessage("waiting");';
    for (let round = 0; round < 30; round += 1) {
      const holder = acquireSync(file);
      const worker = new Worker(`
        const { parentPort, workerData } = require('node:worker_threads');
        const { acquire, acquireSync } = require(${JSON.stringify(pidguardEntry)});
        ${take}`, { eval: true, workerData: file });
      await new Promise((resolve) => worker.once('message', resolve));
      await untilBlocked(file);
      // The grant and the teardown race: the holder lets go as the worker is being terminated.
      const terminated = worker.terminate();
      holder.release();
      await terminated;
      assert.equal(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null, null, `round ${round}: the file was left behind`);
      assert.equal(flockCanTake(file), true, `round ${round}: the lock was left held`);
      fs.rmSync(file, { force: true }); // flock(1) made it
    }
  });
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  test(`on ${signal}, the PID files of locks held in workers are removed like the main thread's`, { ...TIMEOUT, skip: process.platform === 'win32' && 'POSIX signals' }, async (t) => {
    const dir = tempDir(t);
    const child = spawn(process.execPath, ['-e', `
      const path = require('node:path');
      const { Worker } = require('node:worker_threads');
      const { acquireSync } = require(${JSON.stringify(pidguardEntry)});
      acquireSync(path.join(process.argv[1], 'main.pid'));
      const worker = new Worker(\`
        const { parentPort, workerData } = require('node:worker_threads');
        const { acquireSync } = require(${JSON.stringify(pidguardEntry)});
        acquireSync(workerData);
        parentPort.postMessage('held');
        setInterval(() => {}, 1000);\`, { eval: true, workerData: path.join(process.argv[1], 'worker.pid') });
      worker.once('message', () => console.log('held'));`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGKILL'));
    await new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve));
    const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
    child.kill(signal);
    assert.equal(await exited, signal);
    assert.deepEqual(fs.readdirSync(dir).sort(), []);
  });
}

test("a fallback lock (mode 'pidfile') held by a terminated worker, or one whose release failed, does not lock the process out", TIMEOUT, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'worker.pid');
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const { acquireSync } = require(${JSON.stringify(pidguardEntry)});
    globalThis.held = acquireSync(workerData, { mode: 'pidfile' });
    parentPort.postMessage('held');
    setInterval(() => {}, 1000);`, { eval: true, workerData: file });
  await new Promise((resolve) => worker.once('message', resolve));
  // While the worker holds it, the rest of the process is refused, naming this process.
  assert.throws(() => acquireSync(file, { mode: 'pidfile' }), { code: 'ELOCKED', pid: process.pid });
  await worker.terminate();
  // The file still names this (live) process, but no thread of it holds the lock any more.
  assert.equal(fs.readFileSync(file, 'utf8'), `${process.pid}\n`);
  acquireSync(file, { mode: 'pidfile' }).release();

  // A release that cannot remove its file (no descriptor left to open it with) leaves it naming
  // this process: the next acquire takes it over instead of being refused for good.
  const lock = acquireSync(file, { mode: 'pidfile', logger: { debug() {}, info() {}, warn() {}, error() {} } });
  const hog = [];
  try {
    for (;;) hog.push(fs.openSync('/dev/null', 'r'));
  } catch (error) {
    assert.equal(error.code, 'EMFILE');
  }
  lock.release();
  for (const fd of hog) fs.closeSync(fd);
  assert.equal(lock.held, false);
  acquireSync(file, { mode: 'pidfile' }).release();
});
