// `pidguard run|status|stop|wait postgres:<name>` on a real server: one copy across hosts, who
// holds it, ending the holder's session remotely, and a run that loses its lock stopping its command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { root, run, tempDir } from './helpers.mjs';
import { ROLES, skip, suiteServer, until } from './postgres-helpers.mjs';

const bin = path.join(root, 'bin', 'pidguard.js');

/** SIGKILL to the process group of `child` (spawned detached), if it is still there. */
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Whether process `pid` runs (a zombie, waiting for whoever inherited it to reap it, does not). */
function alive(pid) {
  try {
    return !/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** The lines of an O_APPEND journal the commands write to. */
function lines(journal) {
  return fs.existsSync(journal) ? fs.readFileSync(journal, 'utf8').split('\n').filter(Boolean) : [];
}

/** A command that says "started" and its token, then runs until TERM (which it reports), or, with `stubborn`, until KILL. */
function service(stubborn = false) {
  const onTerm = stubborn ? "echo 'ignoring TERM' >&2" : "echo 'got TERM' >&2; exit 0";
  return ['sh', '-c', `trap "${onTerm}" TERM; echo "started $PIDGUARD_LOCK_TOKEN"; while :; do sleep 0.05; done`];
}

describe('the pidguard command on postgres: targets', { skip, timeout: 180_000 }, () => {
  const fixture = suiteServer({ before, after });
  const env = () => ({ ...process.env, PIDGUARD_POSTGRES_URL: fixture.server.url() });
  const pidguard = (args, options = {}) => run(process.execPath, [bin, ...args], { env: env(), ...options });

  /** `pidguard run` in the background; resolves once its command has started (its first line). */
  async function startRun(t, args) {
    // A process group of its own, so that the test's end kills the command with it (a run killed
    // alone leaves its command running, as it should: it keeps the lock's command session).
    const child = spawn(process.execPath, [bin, 'run', ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    t.after(() => killGroup(child));
    let stderr = '';
    child.stderr.on('data', (data) => {
      stderr += data;
    });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
    const first = await new Promise((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once('line', resolve);
      exited.then(({ code }) => reject(new Error(`pidguard run exited ${code} before its command started: ${stderr}`)));
    });
    return { child, first, exited, stderr: () => stderr };
  }

  test('run holds; a second run is refused naming PID and host; status; stop ends the holder remotely; wait', async (t) => {
    const holder = await startRun(t, ['postgres:nightly', '--', ...service()]);
    assert.match(holder.first, /^started \d+$/);
    const refused = pidguard(['run', 'postgres:nightly', '--', 'true']);
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, `pidguard: postgres:nightly is locked: already running as PID ${holder.child.pid} on ${os.hostname()}\n` +
      `pidguard: to stop it: pidguard stop postgres:nightly  (or on ${os.hostname()}: kill ${holder.child.pid})\n`);
    assert.equal(pidguard(['run', '-E', '75', 'postgres:nightly', '--', 'true']).status, 75);

    const status = pidguard(['status', 'postgres:nightly']);
    assert.equal(status.status, 0);
    assert.match(status.stdout, new RegExp(`^postgres:nightly: held by PID ${holder.child.pid} on ${os.hostname()} since \\S+Z \\(fencing token ${holder.first.split(' ')[1]}\\)\\n$`));
    const json = JSON.parse(pidguard(['status', '--json', 'postgres:nightly']).stdout);
    assert.equal(json.locked, true);
    assert.equal(json.pid, holder.child.pid);
    assert.equal(json.host, os.hostname());
    assert.equal(json.token, holder.first.split(' ')[1]);
    assert.equal(json.target, 'postgres:nightly');
    assert.equal(pidguard(['wait', '-t', '0.2', 'postgres:nightly']).status, 1);

    const stopped = pidguard(['stop', 'postgres:nightly']);
    assert.equal(stopped.status, 0, stopped.stderr);
    const { code, stderr } = await holder.exited;
    assert.equal(code, 69);
    assert.match(stderr, /ELOST: this process no longer holds the lock: terminating connection due to administrator command/);
    assert.match(stderr, /got TERM/);
    assert.equal(pidguard(['status', 'postgres:nightly']).status, 1);
    assert.equal(pidguard(['wait', 'postgres:nightly']).status, 0);
    const nothing = pidguard(['stop', 'postgres:nightly']);
    assert.equal(nothing.status, 1);
    assert.equal(nothing.stderr, 'pidguard: nothing holds postgres:nightly\n');
  });

  test("run exits with its command's status, and a waiting run starts when the holder ends", async (t) => {
    assert.equal(pidguard(['run', 'postgres:status', '--', 'sh', '-c', 'exit 7']).status, 7);
    const holder = await startRun(t, ['postgres:queued', '--', ...service()]);
    const waiting = spawn(process.execPath, [bin, 'run', '-w', 'forever', 'postgres:queued', '--', 'sh', '-c', 'echo "second $PIDGUARD_LOCK_TOKEN"'], { env: env(), stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    t.after(() => killGroup(waiting));
    const waited = new Promise((resolve) => {
      let out = '';
      waiting.stdout.on('data', (data) => {
        out += data;
      });
      waiting.once('exit', (code) => resolve({ code, out }));
    });
    // Barrier: the second run is queued on the server before the first lets go.
    await until(() => fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '1', 10_000, 'the second run to queue');
    holder.child.kill('SIGTERM'); // forwarded: the command ends, and so does the run, with its status
    assert.equal((await holder.exited).code, 0);
    const { code, out } = await waited;
    assert.equal(code, 0);
    assert.match(out, /^second \d+\n$/);
  });

  test('a command that ignores SIGTERM is killed after --grace once the lock is lost (a server restart here)', async (t) => {
    const holder = await startRun(t, ['--grace', '0.5', 'postgres:stubborn', '--', ...service(true)]);
    const stoppedAt = performance.now();
    fixture.server.restartSync('fast');
    const { code, stderr } = await holder.exited;
    const tookMs = performance.now() - stoppedAt;
    assert.equal(code, 69);
    assert.match(stderr, /ELOST/);
    assert.match(stderr, /ignoring TERM/);
    assert.match(stderr, /SIGKILL after 0\.5 s/);
    assert.ok(tookMs >= 500, `${tookMs} ms`);
    assert.equal(pidguard(['run', 'postgres:stubborn', '--', 'true']).status, 0, 'the lock can be taken again after the restart');
  });

  test("a role's own timeouts (ALTER ROLE ... SET) do not cut wait and stop short", async (t) => {
    fixture.server.sql(`ALTER ROLE ${ROLES.holder} SET statement_timeout = '300ms'; ALTER ROLE ${ROLES.holder} SET lock_timeout = '200ms';
      ALTER ROLE ${ROLES.holder} SET idle_in_transaction_session_timeout = '300ms'`);
    t.after(() => fixture.server.sql(`ALTER ROLE ${ROLES.holder} RESET ALL`));
    const holder = await startRun(t, ['postgres:timeouts', '--', ...service()]);
    const started = performance.now();
    const waited = pidguard(['wait', '-t', '1', 'postgres:timeouts']);
    assert.equal(waited.status, 1, waited.stderr);
    assert.equal(waited.stderr, 'pidguard: postgres:timeouts is still held after 1 s\n');
    assert.ok(performance.now() - started >= 1000);
    const stopped = pidguard(['stop', 'postgres:timeouts']);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.equal((await holder.exited).code, 69);
  });

  test("run killed with SIGKILL: its command keeps the command session, and the next run waits for it instead of starting a second copy", async (t) => {
    const journal = path.join(tempDir(t), 'journal');
    const job = (tag) => ['sh', '-c', `echo "started $$"; while :; do echo "${tag} $$" >> ${journal}; sleep 0.05; done`];
    const first = await startRun(t, ['postgres:orphaned', '--', ...job('A')]);
    const commandPid = Number(first.first.split(' ')[1]);
    t.after(() => alive(commandPid) && process.kill(commandPid, 'SIGKILL'));
    process.kill(first.child.pid, 'SIGKILL'); // the run alone: its command goes on
    await first.exited;
    assert.ok(alive(commandPid));

    const refused = pidguard(['run', 'postgres:orphaned', '--', 'true']);
    assert.equal(refused.status, 1, refused.stderr);
    assert.equal(refused.stderr, `pidguard: postgres:orphaned is locked: the command of an earlier holder is still running as PID ${commandPid} on ${os.hostname()}\n` +
      `pidguard: to stop it: on ${os.hostname()}: kill ${commandPid}\n`);
    const status = pidguard(['status', 'postgres:orphaned']);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`is not locked, but the command of an earlier holder is still running as PID ${commandPid} on `));

    const second = spawn(process.execPath, [bin, 'run', '-w', '20', 'postgres:orphaned', '--', 'sh', '-c', `echo "B $$" >> ${journal}`], { env: env(), stdio: 'ignore', detached: true });
    t.after(() => killGroup(second));
    let secondEnded = null;
    const secondExited = new Promise((resolve) => second.once('exit', (code) => resolve(code)));
    void secondExited.then((code) => {
      secondEnded = code;
    });
    // Barrier: the second run holds the lock and waits in the server's queue for the command key
    // (on the code before this, it had started its command beside the first, and ended).
    await until(() => secondEnded !== null || fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '1', 10_000, 'the second run to wait');
    assert.equal(secondEnded, null, 'the second run started its command while the first one ran');
    assert.deepEqual(lines(journal).filter((line) => line.startsWith('B')), []);
    process.kill(commandPid, 'SIGKILL');
    assert.equal(await secondExited, 0);
    const journaled = lines(journal);
    assert.equal(journaled.at(-1)?.startsWith('B'), true, journaled.slice(-3).join(' | '));
    assert.equal(journaled.filter((line) => line.startsWith('B')).length, 1);
  });

  test("stop returns once the holder's command has ended, not when the server freed the lock", async (t) => {
    const journal = path.join(tempDir(t), 'journal');
    // A command that, told to stop, finishes what it was doing first (0.5 s), and says when it exits.
    const job = ['sh', '-c', `trap 'sleep 0.5; echo exit >> ${journal}; exit 0' TERM; echo started; while :; do sleep 0.05; done`];
    const holder = await startRun(t, ['--grace', '10', 'postgres:slow-stop', '--', ...job]);
    const stopped = pidguard(['stop', 'postgres:slow-stop']);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.deepEqual(lines(journal), ['exit'], 'stop returned before the command had exited');
    assert.equal((await holder.exited).code, 69);
  });

  test('stop with a standby run waiting: the standby takes over after the stopped command has ended, and stop succeeds', async (t) => {
    const journal = path.join(tempDir(t), 'journal');
    const job = (tag) => ['sh', '-c', `echo "${tag} start" >> ${journal}; trap 'sleep 0.3; echo "${tag} exit" >> ${journal}; exit 0' TERM; echo started; while :; do sleep 0.05; done`];
    const active = await startRun(t, ['--grace', '10', 'postgres:standby', '--', ...job('A')]);
    const standby = spawn(process.execPath, [bin, 'run', '-w', 'forever', '--grace', '10', 'postgres:standby', '--', ...job('B')], { env: env(), stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    t.after(() => killGroup(standby));
    await until(() => fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '1', 10_000, 'the standby to queue');
    const stopped = pidguard(['stop', '-t', '5', 'postgres:standby']);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.equal((await active.exited).code, 69);
    await new Promise((resolve) => readline.createInterface({ input: standby.stdout }).once('line', resolve));
    assert.deepEqual(lines(journal), ['A start', 'A exit', 'B start']);
    killGroup(standby);
  });

  test("on loss, run stops the command's own processes too (a shell's worker), and stop waits for them", async (t) => {
    const journal = path.join(tempDir(t), 'journal');
    // The worker is not the shell's last command, so the shell forks it and waits.
    const job = ['sh', '-c', `sh -c 'echo "$$" >> ${journal}; exec sleep 1000'; echo "shell went on" >> ${journal}`];
    const holder = spawn(process.execPath, [bin, 'run', 'postgres:family', '--', ...job], { env: env(), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    t.after(() => killGroup(holder));
    await until(() => lines(journal).length === 1, 10_000, 'the worker to start');
    const worker = Number(lines(journal)[0]);
    t.after(() => alive(worker) && process.kill(worker, 'SIGKILL'));
    const stopped = pidguard(['stop', 'postgres:family']);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.equal(alive(worker), false, `the worker (PID ${worker}) runs on after stop`);
    assert.equal(await new Promise((resolve) => holder.once('exit', resolve)), 69);
  });

  test('a PID file run whose command has a postgres:// argument is a PID file run', (t) => {
    const pidfile = path.join(tempDir(t), 'app.pid');
    for (const args of [['run', pidfile, 'echo', 'postgres://app@db.internal/app'], ['run', '-w', '5', pidfile, 'echo', 'postgres://db/app']]) {
      const result = pidguard(args);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, `${args.at(-1)}\n`);
    }
  });

  test('mistakes: usage errors exit 64, an unreachable server or an unusable URL 71 with the reason', () => {
    for (const args of [['run', 'postgres:', '--', 'true'], ['run', 'postgres:x'], ['status', 'postgres:x', 'extra'], ['stop', '-s', 'KILL', 'postgres:x'], ['run', '--pid', 'self', 'postgres:x', '--', 'true'],
      ['run', `postgres:${'x'.repeat(300)}`, '--', 'true'], ['run', 'postgres:a\nb', '--', 'true'], ['run', '--grace', '3000000', 'postgres:x', '--', 'true'], ['run', '-w', '-1', 'postgres:x', 'true']]) {
      const result = pidguard(args);
      assert.equal(result.status, 64, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /Try 'pidguard --help'/);
    }
    const unreachable = pidguard(['status', 'postgres:x'], { env: { ...process.env, PIDGUARD_POSTGRES_URL: 'postgres://u:p@127.0.0.1:1/db' } });
    assert.equal(unreachable.status, 71);
    assert.match(unreachable.stderr, /^pidguard: ECONNREFUSED: cannot reach the server while looking for the holder: .*\(postgres:x on 127\.0\.0\.1:1\/db\)\n$/);
    assert.match(pidguard(['run', '--grace', '3000000', 'postgres:x', 'true']).stderr, /^pidguard: run: --grace takes at most 2147479 seconds/);
    for (const url of ['postgres://user:s3cret@host:99999/db', 'postgres://user:s3cret@[::1/db']) {
      const bad = pidguard(['status', 'postgres:x'], { env: { ...process.env, PIDGUARD_POSTGRES_URL: url } });
      assert.equal(bad.status, 71);
      assert.equal(bad.stderr, 'pidguard: ERR_INVALID_URL: the connection string (PIDGUARD_POSTGRES_URL or options.connection) cannot be used: Invalid URL (postgres:x on the server it names)\n');
    }
    assert.match(pidguard(['run', '--help', 'postgres:x']).stdout, /pg_terminate_backend/);
  });
});
