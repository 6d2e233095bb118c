// Real processes racing for one PID file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { acquireSync, readPid } from 'pidguard';
import errors from '../dist/errors.js';
import { here, onWindows, startAgents, tempDir } from './helpers.mjs';
import { lockIsFree } from './mode.mjs';

const TIMEOUT = { timeout: 60_000 };

test('a storm of 16 processes started at once: exactly one wins, every loser names it', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'storm.pid');
  const agents = await startAgents(t, 16);
  // Every agent has loaded pidguard and waits on its stdin: the sends below are the barrier.
  const answers = await Promise.all(agents.map((agent) => agent.ask({ op: 'acquire', path: file })));
  const winners = answers.filter((answer) => answer.ok);
  assert.equal(winners.length, 1, JSON.stringify(answers));
  const winner = agents[answers.indexOf(winners[0])];
  assert.equal(winners[0].pid, winner.pid);
  for (const answer of answers.filter((a) => !a.ok)) {
    assert.equal(answer.code, 'ELOCKED');
    assert.equal(answer.pid, winner.pid, answer.message);
    assert.ok(answer.message.includes(`already running as PID ${winner.pid}. To stop it: ${errors.stopCommand(winner.pid)}`), answer.message);
  }
  assert.equal(readPid(file), winner.pid);
});

test('a SIGKILLed holder leaves its file; the next start takes the lock at once', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'killed.pid');
  const [holder] = await startAgents(t, 1);
  assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
  holder.kill('SIGKILL');
  assert.deepEqual(await holder.exited, { code: null, signal: 'SIGKILL' });
  assert.equal(readPid(file), holder.pid, 'the dead holder leaves its PID file behind');

  const lock = acquireSync(file);
  assert.equal(readPid(file), process.pid);
  lock.release();
});

test('the unlink race: 8 processes looping acquire/release never overlap', TIMEOUT, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'churn.pid');
  const journal = path.join(dir, 'journal');
  const holds = onWindows ? 40 : 150; // under Wine every file operation is a round trip to its server
  const children = Array.from({ length: 8 }, () => {
    const child = spawn(process.execPath, [path.join(here, 'fixtures', 'churn.mjs'), file, journal, String(holds)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    t.after(() => child.kill('SIGKILL'));
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    return { child, lines, exited };
  });
  for (const { lines } of children) assert.equal((await lines.next()).value, 'ready');
  for (const { child } of children) child.stdin.end('go\n');
  const results = await Promise.all(children.map(async ({ lines }) => JSON.parse((await lines.next()).value)));
  assert.deepEqual(await Promise.all(children.map(({ exited }) => exited)), Array(8).fill(0));

  const entries = fs.readFileSync(journal, 'utf8').trim().split('\n');
  assert.equal(entries.length, 8 * holds * 2);
  let inside = null;
  for (const [index, entry] of entries.entries()) {
    const [what, pid] = entry.split(' ');
    assert.notEqual(what, 'foreign', `holder ${pid} found another PID in the file at line ${index + 1}`);
    if (what === 'enter') {
      assert.equal(inside, null, `line ${index + 1}: ${pid} entered while ${inside} held the lock`);
      inside = pid;
    } else {
      assert.equal(inside, pid, `line ${index + 1}: ${pid} left without holding`);
      inside = null;
    }
  }
  for (const { held } of results) assert.equal(held, holds);
  assert.equal(fs.existsSync(file), false, 'the last holder removed the file');
});

test('a holder SIGKILLed after spawning a long-lived child does not leave the lock with the child', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'parent.pid');
  const [holder] = await startAgents(t, 1);
  assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
  const { childPid } = await holder.ask({ op: 'spawn', command: process.execPath, args: ['-e', 'setTimeout(() => {}, 60_000)'] });
  t.after(() => process.kill(childPid, 'SIGKILL'));
  holder.kill('SIGKILL');
  await holder.exited;
  process.kill(childPid, 0); // the child lives on
  assert.equal(lockIsFree(file), true);
  const lock = acquireSync(file);
  lock.release();
});

test('a holder that opens and closes other descriptors of its own file still holds it', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'fds.pid');
  const [holder] = await startAgents(t, 1);
  assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
  const touched = await holder.ask({ op: 'touch', path: file });
  assert.equal(touched.text, `${holder.pid}\n`);
  assert.equal(touched.readPid, holder.pid);
  assert.equal(lockIsFree(file), false);
  assert.throws(() => acquireSync(file), { code: 'ELOCKED', pid: holder.pid });
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  const noSignals = onWindows && 'Windows cannot send a signal to another process: kill() terminates it';
  test(`${signal} releases the lock, removes the file, and still ends the process by ${signal}`, { ...TIMEOUT, skip: noSignals }, async (t) => {
    const file = path.join(tempDir(t), 'signal.pid');
    const [holder] = await startAgents(t, 1);
    assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
    holder.kill(signal);
    assert.deepEqual(await holder.exited, { code: null, signal });
    assert.equal(fs.existsSync(file), false);
  });
}

test('process.exit() and an uncaught exception release the lock and remove the file', TIMEOUT, async (t) => {
  const dir = tempDir(t);
  const [exiting, throwing] = await startAgents(t, 2);
  const exitFile = path.join(dir, 'exit.pid');
  const throwFile = path.join(dir, 'throw.pid');
  assert.equal((await exiting.ask({ op: 'acquire', path: exitFile })).ok, true);
  assert.equal((await throwing.ask({ op: 'acquire', path: throwFile })).ok, true);
  exiting.send({ op: 'exit', code: 3 });
  throwing.send({ op: 'throw' });
  assert.deepEqual(await exiting.exited, { code: 3, signal: null });
  assert.deepEqual(await throwing.exited, { code: 1, signal: null });
  assert.equal(fs.existsSync(exitFile), false);
  assert.equal(fs.existsSync(throwFile), false);
});

test('a process that has released its locks still dies of SIGTERM as before', TIMEOUT, async (t) => {
  const file = path.join(tempDir(t), 'released.pid');
  const [holder] = await startAgents(t, 1);
  assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
  assert.deepEqual(await holder.ask({ op: 'release' }), { ok: true });
  holder.kill('SIGTERM');
  assert.deepEqual(await holder.exited, { code: null, signal: 'SIGTERM' });
});
