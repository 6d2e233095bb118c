// inspect() as a health check sees it: from another process, while holders come and go.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
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
