// inspect() as a health check sees it: from another process, while holders come and go.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { acquireSync, inspect, inspectSync, readPid } from 'pidguard';
import { run, startAgents, tempDir } from './helpers.mjs';

const pidguardEntry = fileURLToPath(import.meta.resolve('pidguard'));

test('another process inspecting sees the holder, then the free file', { timeout: 30_000 }, async (t) => {
  const file = path.join(tempDir(t), 'health.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const held = await inspect(file);
  assert.equal(held.locked, true);
  assert.equal(held.pid, holder.pid);
  assert.equal(held.recordedPid, holder.pid);
  assert.deepEqual(inspectSync(file), held);
  await holder.ask({ op: 'release' });
  const free = await inspect(file);
  assert.equal(free.locked, false);
  assert.equal(free.exists, false);
  assert.equal(free.pid, null);
});

test('inspect and inspectSync take no lock at all (strace sees no flock call)', { skip: process.platform !== 'linux' && 'Linux only', timeout: 30_000 }, async (t) => {
  const file = path.join(tempDir(t), 'traced.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const script = `
    const { inspect, inspectSync } = require(${JSON.stringify(pidguardEntry)});
    const seen = [inspectSync(process.argv[1]).locked];
    inspect(process.argv[1]).then((status) => { seen.push(status.locked); console.log(JSON.stringify(seen)); });`;
  const traced = run('strace', ['-f', '-qq', '-e', 'trace=flock', '-o', path.join(path.dirname(file), 'trace'), process.execPath, '-e', script, file]);
  assert.equal(traced.status, 0, traced.stderr);
  assert.equal(traced.stdout.trim(), '[true,true]');
  assert.equal(fs.readFileSync(path.join(path.dirname(file), 'trace'), 'utf8'), '');
});

test('inspecting never makes a concurrent acquirer fail', { skip: process.platform !== 'linux' && 'takes no lock only where /proc/locks exists', timeout: 60_000 }, async (t) => {
  const file = path.join(tempDir(t), 'busy.pid');
  // The only acquirer: any refusal it meets can only come from the inspections below.
  const acquirer = spawn(process.execPath, ['-e', `
    const { acquireSync } = require(${JSON.stringify(pidguardEntry)});
    let refused = 0;
    process.stdout.write('start\\n');
    for (let i = 0; i < 3000; i += 1) {
      try { acquireSync(process.argv[1]).release(); } catch (error) { if (error.code !== 'ELOCKED') throw error; refused += 1; }
    }
    process.stdout.write(JSON.stringify({ refused }) + '\\n');`, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => acquirer.kill('SIGKILL'));
  let output = '';
  acquirer.stdout.on('data', (data) => (output += data));
  const exited = new Promise((resolve) => acquirer.once('exit', resolve));
  let running = true;
  void exited.then(() => (running = false));
  await new Promise((resolve) => acquirer.stdout.once('data', resolve));
  let inspections = 0;
  let sawLocked = 0;
  while (running) {
    if ((await inspect(file)).locked) sawLocked += 1;
    if (inspectSync(file).locked) sawLocked += 1;
    inspections += 2;
  }
  assert.equal(await exited, 0);
  assert.deepEqual(JSON.parse(output.split('\n')[1]), { refused: 0 });
  assert.ok(inspections > 0);
  t.diagnostic(`${inspections} inspections, ${sawLocked} saw the lock held`);
});

test('a Unix socket at the path: readPid is null, inspect says not locked, acquire refuses it with EINVAL', { skip: process.platform === 'win32' && 'POSIX file types', timeout: 30_000 }, async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  const server = net.createServer();
  await new Promise((resolve, reject) => server.listen(file, resolve).once('error', reject));
  t.after(() => server.close());
  assert.ok(fs.lstatSync(file).isSocket());
  assert.equal(readPid(file), null);
  for (const status of [inspectSync(file), await inspect(file)]) {
    assert.equal(status.locked, false);
    assert.equal(status.pid, null);
    assert.equal(status.exists, true);
    assert.equal(status.checkedBy, 'none');
  }
  assert.throws(() => acquireSync(file), { code: 'EINVAL', path: file });
  assert.ok(fs.lstatSync(file).isSocket(), 'the socket is left where it was');
});

/**
 * Runs lockSync/release in a loop in another process on `file` while this one runs `during`
 * `rounds` times, and resolves with the refusals that process met: with nobody else locking the
 * file, each was caused by what `during` does.
 */
async function refusalsWhile(t, file, rounds, during) {
  const locker = spawn(process.execPath, ['-e', `
    const { lockSync } = require(${JSON.stringify(pidguardEntry)});
    let refused = 0;
    let cycles = 0;
    let stop = false;
    process.stdin.on('end', () => (stop = true)).resume();
    const loop = () => {
      for (let i = 0; i < 50; i += 1, cycles += 1) {
        try { lockSync(process.argv[1]).release(); } catch (error) { if (error.code !== 'ELOCKED') throw error; refused += 1; }
      }
      if (stop) process.stdout.write(JSON.stringify({ refused, cycles }) + '\\n');
      else setImmediate(loop);
    };
    process.stdout.write('start\\n');
    loop();`, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => locker.kill('SIGKILL'));
  let output = '';
  locker.stdout.on('data', (data) => (output += data));
  const exited = new Promise((resolve) => locker.once('exit', resolve));
  await new Promise((resolve) => locker.stdout.once('data', resolve));
  for (let round = 0; round < rounds; round += 1) await during();
  locker.stdin.end();
  assert.equal(await exited, 0);
  return JSON.parse(output.split('\n')[1]);
}

test('a file naming a live PID without a kernel lock: inspect takes no lock to tell the fallback from the kernel lock', { skip: process.platform !== 'linux' && 'takes no lock only where /proc/locks exists', timeout: 60_000 }, async (t) => {
  const file = path.join(tempDir(t), 'app.pid');
  // A live PID with no lock: what mode 'auto' must tell apart from a fallback holder.
  fs.writeFileSync(file, `${process.pid}\n`);
  const alone = await refusalsWhile(t, file, 300, () => delay(2));
  assert.equal(alone.refused, 0, 'nothing else locks the file');
  let sawLocked = 0;
  const inspected = await refusalsWhile(t, file, 750, async () => {
    if ((await inspect(file)).locked) sawLocked += 1;
    if (inspectSync(file).locked) sawLocked += 1;
  });
  t.diagnostic(`alone: ${alone.cycles} lock cycles; with 1500 inspections: ${inspected.cycles} cycles, ${sawLocked} inspections saw the lock held`);
  assert.equal(inspected.refused, 0, `${inspected.refused} of ${inspected.cycles} lock attempts refused while inspecting`);
});
