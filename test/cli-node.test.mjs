// The pidguard command started directly with node, no shell between: the part of the CLI that
// every platform has, Windows included (test:windows runs it under Wine). cli.test.mjs drives
// the rest from bash: inheritance of the locked descriptor, signals, flock(1).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import errors from '../dist/errors.js';
import { root, run, tempDir } from './helpers.mjs';

const TIMEOUT = { timeout: 60_000 };
const bin = path.join(root, 'bin', 'pidguard.js');

/** A job for `pidguard run`: records its PID in the journal, says so, then waits for its stdin to end. */
const JOB = [
  process.execPath, '-e',
  "require('fs').appendFileSync(process.argv[1], process.pid + '\\n'); console.log('job ' + process.pid); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));",
];

function pidguard(args) {
  return run(process.execPath, [bin, ...args]);
}

/** Starts `pidguard run` with stdin a pipe (the job's stdin) and output read line by line. */
function startRun(t, pidfile, journal) {
  const child = spawn(process.execPath, [bin, 'run', pidfile, '--', ...JOB, journal], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.on('data', (data) => (stderr += data));
  // 'close', not 'exit': 'exit' can come before the last of stderr has been read, and a loser's
  // message then looks empty ('close' waits for the streams; seen under Wine and load).
  const exited = new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
  return { child, lines, exited };
}

/** Resolves once `file` names `pid` (pidguard run records its job's PID just after starting it). */
async function fileNames(file, pid, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim() === String(pid)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${file} does not name PID ${pid} after ${timeoutMs} ms`);
}

/** What a copy did first: printed its job's line (it won), or exited (it was refused). */
async function firstOutcome(copy) {
  const { value } = await copy.lines.next();
  if (value !== undefined) return { job: value };
  return { exit: await copy.exited }; // stdout ended: the process is exiting
}

test('8 copies of pidguard run started at once: the job runs once, 7 are refused naming the holder', TIMEOUT, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'job.pid');
  const journal = path.join(dir, 'journal');
  const copies = Array.from({ length: 8 }, () => startRun(t, pidfile, journal));
  // The winner's job waits on its stdin, so it holds the lock until every loser has been
  // refused: the barrier is the losers' exits, not a guess at timing.
  const outcomes = await Promise.all(copies.map(firstOutcome));
  const winners = outcomes.filter((outcome) => outcome.job !== undefined);
  assert.equal(winners.length, 1, JSON.stringify(outcomes));
  const jobPid = Number(winners[0].job.split(' ')[1]);
  assert.equal(fs.readFileSync(pidfile, 'utf8'), `${jobPid}\n`, 'the file records the job, not pidguard');
  const winner = copies[outcomes.indexOf(winners[0])];
  // Until the job has started, the file names the winning pidguard (which forwards signals to
  // it); a loser may have looked then.
  for (const { exit } of outcomes.filter((outcome) => outcome.exit !== undefined)) {
    assert.equal(exit.code, 1, exit.stderr);
    const named = Number(/already running as PID (\d+)/.exec(exit.stderr)?.[1]);
    assert.ok(named === jobPid || named === winner.child.pid, exit.stderr);
    assert.ok(exit.stderr.includes(errors.stopCommand(named)), exit.stderr);
  }
  winner.child.stdin.end();
  assert.deepEqual(await winner.exited, { code: 0, stderr: '' });
  assert.equal(fs.readFileSync(journal, 'utf8'), `${jobPid}\n`, 'the job ran once');
  assert.equal(fs.existsSync(pidfile), false);
});

test('status names the job, stop ends it and frees the lock, wait then returns at once', TIMEOUT, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'job.pid');
  const copy = startRun(t, pidfile, path.join(dir, 'journal'));
  const jobPid = Number((await copy.lines.next()).value.split(' ')[1]);
  const status = pidguard(['status', pidfile]);
  assert.deepEqual([status.status, status.stdout], [0, `${jobPid}\n`]);
  const stop = pidguard(['stop', pidfile]);
  assert.equal(stop.status, 0, stop.stderr);
  const { code } = await copy.exited;
  assert.notEqual(code, 0, 'the job was stopped, not finished');
  assert.equal(fs.existsSync(pidfile), false);
  assert.equal(pidguard(['status', pidfile]).status, 1);
  assert.equal(pidguard(['wait', pidfile]).status, 0);
});

/** A node script for `pidguard run`, as argv: prints its arguments joined by spaces (node reads no option after a script's file). */
const ECHO_ARGS = [process.execPath, path.join(root, 'test', 'fixtures', 'echo-args.cjs')];

test("run's options end at the PID file, as flock(1)'s: options after it are the command's", TIMEOUT, (t) => {
  const pidfile = path.join(tempDir(t), 'job.pid');
  const result = pidguard(['run', '-n', pidfile, ...ECHO_ARGS, '-w', '5', '-h', '--', '-c']);
  assert.deepEqual([result.status, result.stdout.trim(), result.stderr], [0, '-w 5 -h -- -c', '']);
  assert.equal(pidguard(['run', '--', pidfile, '--', ...ECHO_ARGS, 'x']).stdout.trim(), 'x');
  const mistake = pidguard(['run', '-w', '-1', pidfile, ...ECHO_ARGS]);
  assert.deepEqual([mistake.status, mistake.stderr], [64, "pidguard: -w, --wait takes a number of seconds or 'forever', got '-1'\nTry 'pidguard --help'.\n"]);
});

test('run -c <string> runs the string with the shell (POSIX /bin/sh, Windows cmd.exe) under the lock', TIMEOUT, (t) => {
  const pidfile = path.join(tempDir(t), 'job.pid');
  // `exit 3` means the same to both shells.
  const result = pidguard(['run', pidfile, '-c', 'exit 3']);
  assert.equal(result.status, 3, result.stderr);
  assert.equal(fs.existsSync(pidfile), false);
});

test('status: 1 when not running (no file, no directory), 4 when it cannot tell (a directory at the path); --lsb 3, 1, 4', TIMEOUT, (t) => {
  const dir = tempDir(t);
  const missing = pidguard(['status', path.join(dir, 'job.pid')]);
  assert.deepEqual([missing.status, missing.stdout], [1, '']);
  assert.match(missing.stderr, /job\.pid is not locked: not running \(there is no such file\)/);
  const noDir = pidguard(['status', path.join(dir, 'nope', 'job.pid')]);
  assert.equal(noDir.status, 1);
  assert.ok(noDir.stderr.includes(`(there is no directory ${path.join(dir, 'nope')})`), noDir.stderr);
  fs.mkdirSync(path.join(dir, 'a-dir.pid'));
  const typo = pidguard(['status', path.join(dir, 'a-dir.pid')]);
  assert.equal(typo.status, 4);
  assert.match(typo.stderr, /cannot tell whether .*a-dir\.pid is locked: a directory stands there, not a PID file/);
  fs.writeFileSync(path.join(dir, 'stale.pid'), '2147483647\n');
  const lsb = (name) => pidguard(['status', '--lsb', path.join(dir, name)]).status;
  assert.deepEqual([lsb('job.pid'), lsb('stale.pid'), lsb('a-dir.pid')], [3, 1, 4]);
  assert.deepEqual([pidguard(['stop', path.join(dir, 'job.pid')]).status, pidguard(['stop', '--oknodo', path.join(dir, 'job.pid')]).status], [1, 0]);
});

test('wait --held prints the PID of a job that holds the lock; stop --retry ends it', TIMEOUT, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'job.pid');
  const copy = startRun(t, pidfile, path.join(dir, 'journal'));
  const jobPid = Number((await copy.lines.next()).value.split(' ')[1]);
  // Node's spawn (Windows) tells the job's PID only once it runs, so the job may speak first.
  await fileNames(pidfile, jobPid);
  const ready = pidguard(['wait', '--held', '-t', '30', pidfile]);
  assert.deepEqual([ready.status, ready.stdout], [0, `${jobPid}\n`], ready.stderr);
  const stop = pidguard(['stop', '--retry', 'TERM/10/KILL/10', pidfile]);
  assert.equal(stop.status, 0, stop.stderr);
  assert.notEqual((await copy.exited).code, 0);
  assert.equal(pidguard(['wait', '--held', '-t', '0.1', pidfile]).status, 1);
});

// Windows (Wine, at least) keeps the name of a file removed while pidguard holds it open (delete
// pending) until the last handle closes: there is no removal to see, and nothing to take again.
const removable = { ...TIMEOUT, skip: process.platform === 'win32' && 'a file removed while held open keeps its name on Windows (delete pending)' };

test('a PID file removed under pidguard run is taken again, naming the job; a second copy is then refused', removable, async (t) => {
  const dir = tempDir(t);
  const pidfile = path.join(dir, 'job.pid');
  const copy = startRun(t, pidfile, path.join(dir, 'journal'));
  const jobPid = Number((await copy.lines.next()).value.split(' ')[1]);
  await fileNames(pidfile, jobPid);
  fs.rmSync(pidfile);
  await fileNames(pidfile, jobPid);
  const second = pidguard(['run', pidfile, '--', ...ECHO_ARGS, 'ran']);
  assert.equal(second.status, 1, second.stderr);
  copy.child.stdin.end();
  const { code, stderr } = await copy.exited;
  assert.equal(code, 0);
  assert.match(stderr, /job\.pid was removed or replaced; took it again, naming PID \d+ again/);
});
