// The package as users load it: require, import, TypeScript declarations, worker threads.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import * as esm from 'pidguard';
import { flockCanTake, openDescriptorCount, root, run, tempDir } from './helpers.mjs';

const API = ['acquire', 'acquireSync', 'inspect', 'inspectSync', 'readPid', 'PidLock', 'LockedError'];

test('require("pidguard") and import from "pidguard" give the same API', () => {
  const cjs = createRequire(import.meta.url)('pidguard');
  for (const name of API) {
    assert.equal(typeof cjs[name], 'function', `require: ${name}`);
    assert.equal(esm[name], cjs[name], `import: ${name}`);
  }
});

test('the TypeScript examples compile against the declarations and run, await using included', { timeout: 60_000 }, (t) => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const compiled = run(process.execPath, [tsc, '-p', path.join(root, 'test', 'types', 'tsconfig.json')]);
  assert.equal(compiled.status, 0, compiled.stdout + compiled.stderr);
  const dir = tempDir(t);
  const ran = run(process.execPath, [path.join(root, 'build', 'types-test', 'usage.js'), dir]);
  assert.equal(ran.status, 0, ran.stderr);
  const seen = JSON.parse(ran.stdout);
  assert.deepEqual(seen, {
    pidInFile: seen.lockPid,
    lockPid: seen.lockPid,
    refusedPid: seen.lockPid,
    locked: true,
    afterAwaitUsing: null,
    mode: 'kernel',
    afterUsing: null,
  });
  assert.equal(typeof seen.lockPid, 'number');
});

test('a worker thread loads the addon and takes a lock', { timeout: 30_000 }, async (t) => {
  const file = path.join(tempDir(t), 'worker.pid');
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { acquireSync } = require('pidguard');
     const lock = acquireSync(workerData);
     parentPort.postMessage(lock.pid);
     parentPort.once('message', () => { lock.release(); parentPort.postMessage('released'); });`,
    { eval: true, workerData: file },
  );
  t.after(() => worker.terminate());
  const [pid] = await onceMessage(worker);
  assert.equal(pid, process.pid);
  assert.equal(flockCanTake(file), false);
  worker.postMessage('release');
  assert.deepEqual(await onceMessage(worker), ['released']);
  assert.equal(fs.existsSync(file), false);
  assert.equal(flockCanTake(file), true); // (flock(1) creates the file again)
});

test('worker.terminate() with a lock held frees the lock, the file and the descriptor', { timeout: 30_000 }, async (t) => {
  const file = path.join(tempDir(t), 'terminated.pid');
  const descriptors = openDescriptorCount();
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { acquireSync } = require('pidguard');
     acquireSync(workerData);
     parentPort.postMessage('held');
     setInterval(() => {}, 1000);`,
    { eval: true, workerData: file },
  );
  assert.deepEqual(await onceMessage(worker), ['held']);
  assert.equal(flockCanTake(file), false);
  await worker.terminate();
  assert.equal(openDescriptorCount(), descriptors);
  assert.equal(fs.existsSync(file), false);
  assert.equal(flockCanTake(file), true);
});

function onceMessage(worker) {
  return new Promise((resolve, reject) => {
    worker.once('message', (message) => resolve([message]));
    worker.once('error', reject);
  });
}
