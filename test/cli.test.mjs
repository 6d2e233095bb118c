// The pidguard command, run as an operator or a startup script runs it: the real executable,
// from bash, with real processes holding and waiting for real locks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { blockedOn, cliSetup, fileHolds, linesIn, sh, startScript } from './cli-helpers.mjs';
import { flockCanTake, startHolder } from './helpers.mjs';

const linux = { skip: process.platform !== 'linux' && 'needs bash, flock(1) and /proc/locks', timeout: 60_000 };
const isRoot = process.getuid?.() === 0;
const manifest = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** A user error: one line saying what is wrong (plus the --help hint for usage), never a stack. */
function assertOneLineError(result, status, pattern) {
  assert.equal(result.status, status, result.stderr);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(result.stderr.trim().split('\n').length <= 2, result.stderr);
}

test('--help, --version, and mistakes in the command line', linux, (t) => {
  const setup = cliSetup(t);
  const help = sh(setup, 'pidguard --help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /pidguard run \[options\] <pidfile> -- <command>/);
  assert.equal(sh(setup, 'pidguard --version').stdout, `pidguard ${manifest.version}\n`);

  assertOneLineError(sh(setup, 'pidguard'), 64, /missing a command/);
  assertOneLineError(sh(setup, 'pidguard launch app.pid'), 64, /unknown command 'launch'/);
  assertOneLineError(sh(setup, 'pidguard run app.pid'), 64, /missing the command/);
  assertOneLineError(sh(setup, 'pidguard run app.pid ls -l'), 64, /'-l'.*put '--' before the command/);
  assertOneLineError(sh(setup, 'pidguard run -w soon app.pid -- true'), 64, /-w, --wait takes a number of seconds/);
  assertOneLineError(sh(setup, 'pidguard run -E 300 app.pid -- true'), 64, /from 0 to 255/);
  assertOneLineError(sh(setup, 'pidguard run --pid parent app.pid -- true'), 64, /--pid takes 'self' or 'command'/);
  assertOneLineError(sh(setup, 'pidguard stop -s NOPE app.pid'), 64, /unknown signal 'NOPE'/);
  assertOneLineError(sh(setup, 'pidguard status a.pid b.pid'), 64, /unexpected argument 'b.pid'/);
  assert.equal(fs.existsSync(setup.pidfile), false, 'no mistake touched the PID file');
});

test('a PID file that cannot be used: one line with the code and the path, and the command never runs', linux, (t) => {
  const setup = cliSetup(t);
  const missing = path.join(setup.dir, 'no-such-dir', 'app.pid');
  assertOneLineError(sh(setup, `pidguard run ${missing} -- touch ran`), 71, new RegExp(`^pidguard: ENOENT: .*open '${missing}'`));
  fs.mkdirSync(path.join(setup.dir, 'a-dir.pid'));
  assertOneLineError(sh(setup, 'pidguard run a-dir.pid -- touch ran'), 71, /^pidguard: EISDIR: .*a-dir\.pid'/);
  assertOneLineError(sh(setup, 'pidguard status no-such-dir/app.pid'), 1, /is not locked/);
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false);
});

test('a Unix socket at the path: status says not locked (1), run refuses it with EINVAL (71)', linux, async (t) => {
  const setup = cliSetup(t);
  const server = net.createServer();
  await new Promise((resolve, reject) => server.listen(setup.pidfile, resolve).once('error', reject));
  t.after(() => server.close());
  assertOneLineError(sh(setup, 'pidguard status app.pid'), 1, /app\.pid is not locked/);
  assertOneLineError(sh(setup, 'pidguard run app.pid -- touch ran'), 71, /^pidguard: EINVAL: .*app\.pid'/);
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false);
  assert.ok(fs.lstatSync(setup.pidfile).isSocket());
});

test('permission denied: one line with EACCES and the path', { ...linux, skip: linux.skip || (!isRoot && 'drops to nobody with setpriv, which needs root') }, (t) => {
  const setup = cliSetup(t);
  const locked = path.join(setup.dir, 'root-only');
  fs.mkdirSync(locked, { mode: 0o700 });
  fs.chmodSync(setup.dir, 0o755);
  const result = sh(setup, `setpriv --reuid=65534 --regid=65534 --clear-groups ${process.execPath} ${path.join(setup.dir, 'bin', 'pidguard')} run ${locked}/app.pid -- true`);
  assertOneLineError(result, 71, new RegExp(`^pidguard: EACCES: .*open '${locked}/app.pid'`));
});

test('32 copies started at once from one bash script run the command exactly once; the others name its PID', linux, async (t) => {
  const setup = cliSetup(t);
  const fifo = path.join(setup.dir, 'release.fifo');
  sh(setup, `mkfifo ${fifo}`);
  // Each copy records how it ended in `statuses`; the one that runs the command records its own
  // PID and its parent's (the pidguard wrapper's) in `journal`, then blocks on the FIFO until the
  // test has seen all 31 refusals.
  const racers = startScript(t, setup, `
    for i in $(seq 32); do
      ( pidguard run -E 42 app.pid -- bash -c 'echo "$$ $PPID" >> journal; read -r _ < release.fifo' 2> err.$i
        echo "$i $?" >> statuses ) &
    done
    wait`);
  const refusals = await linesIn(path.join(setup.dir, 'statuses'), 31);
  assert.ok(refusals.every((line) => line.endsWith(' 42')), `31 refused with the conflict code: ${refusals}`);
  sh(setup, `echo go > ${fifo}`);
  assert.deepEqual(await racers.exited, { code: 0, signal: null });

  const journal = fs.readFileSync(path.join(setup.dir, 'journal'), 'utf8').trim().split('\n');
  assert.equal(journal.length, 1, `the command ran once: ${journal}`);
  const [commandPid, wrapperPid] = journal[0].split(' ');
  const statuses = fs.readFileSync(path.join(setup.dir, 'statuses'), 'utf8').trim().split('\n');
  assert.equal(statuses.length, 32);
  const winner = statuses.find((line) => line.endsWith(' 0'));
  assert.ok(winner, 'the copy that ran the command exited with its status');
  for (const line of statuses.filter((entry) => entry !== winner)) {
    const stderr = fs.readFileSync(path.join(setup.dir, `err.${line.split(' ')[0]}`), 'utf8');
    // The command's PID once it is recorded; the wrapper's (which holds the lock and forwards
    // signals) for a copy that looked in the instant before.
    const named = stderr.match(/already running as PID (\d+)/)?.[1];
    assert.ok(named === commandPid || named === wrapperPid, `names the holder: ${stderr}`);
    assert.match(stderr, new RegExp(`to stop it: kill ${named}`));
  }
  assert.equal(fs.existsSync(setup.pidfile), false, 'the winner removed its PID file');
});

test('status: exit 1 when not running, the PID and exit 0 when running, the whole status as JSON', linux, async (t) => {
  const setup = cliSetup(t);
  const idle = sh(setup, 'pidguard status app.pid');
  assert.equal(idle.status, 1);
  assert.equal(idle.stdout, '');
  assert.match(idle.stderr, /app\.pid is not locked: not running/);

  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo $$; exec sleep 60'`);
  const commandPid = Number(await service.nextLine());
  const held = sh(setup, 'pidguard status app.pid');
  assert.equal(held.status, 0);
  assert.equal(held.stdout, `${commandPid}\n`);
  const json = sh(setup, 'pidguard status --json app.pid');
  assert.equal(json.status, 0);
  const reported = JSON.parse(json.stdout);
  assert.ok(Date.parse(reported.startedAt) > Date.now() - 60_000, reported.startedAt);
  assert.deepEqual({ ...reported, startedAt: undefined }, {
    path: setup.pidfile, locked: true, pid: commandPid, holderProof: 'fd', recordedPid: commandPid, recordedPidHolds: true, exists: true,
    mode: 'kernel', checkedBy: 'proc-locks', alive: true, startedAt: undefined, commandLine: 'sleep 60',
  });

  process.kill(-service.child.pid, 'SIGKILL'); // wrapper and command, as a crash would
  await service.exited;
  assert.equal(sh(setup, 'flock --wait 10 app.pid true').status, 0);
  const stale = sh(setup, 'pidguard status --json app.pid');
  assert.equal(stale.status, 1);
  assert.deepEqual(JSON.parse(stale.stdout), {
    path: setup.pidfile, locked: false, pid: null, holderProof: null, recordedPid: commandPid, recordedPidHolds: false, exists: true,
    mode: 'kernel', checkedBy: 'proc-locks', alive: false, startedAt: null, commandLine: null,
  });
});

test('stop: signals the holder and returns once the lock is free; says so when nothing holds it', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo $$; exec sleep 60'`);
  await service.nextLine();
  const stopped = sh(setup, 'pidguard stop app.pid');
  assert.equal(stopped.status, 0, stopped.stderr);
  // Released by the time stop returned: the PID file removed, and the lock free.
  assert.equal(fs.existsSync(setup.pidfile), false);
  assert.equal(flockCanTake(setup.pidfile), true); // (flock(1) creates the file it locks)
  assert.deepEqual(await service.exited, { code: 128 + 15, signal: null });
  fs.rmSync(setup.pidfile);

  const again = sh(setup, 'pidguard stop app.pid');
  assert.equal(again.status, 1);
  assert.match(again.stderr, /nothing holds .*app\.pid/);
});

test('stop: a holder that ignores the signal outlasts the timeout; -s KILL ends it', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'trap "" TERM; echo $$; exec sleep 60'`);
  const commandPid = await service.nextLine();
  const patient = sh(setup, 'pidguard stop -t 0.3 app.pid');
  assert.equal(patient.status, 1);
  assert.match(patient.stderr, new RegExp(`PID ${commandPid} still holds .*app\\.pid 0\\.3 s after SIGTERM; to force it: pidguard stop -s KILL`));
  assert.equal(flockCanTake(setup.pidfile), false);
  assert.equal(sh(setup, 'pidguard stop --signal 9 app.pid').status, 0);
  assert.deepEqual(await service.exited, { code: 128 + 9, signal: null });
});

test('wait: blocks in the kernel until the holder lets go; a timeout ends it with status 1', linux, async (t) => {
  const setup = cliSetup(t);
  assert.equal(sh(setup, 'pidguard wait app.pid').status, 0, 'nothing to wait for');
  sh(setup, 'mkfifo release.fifo');
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo $$; read -r _ < release.fifo'`);
  await service.nextLine();

  const timedOut = sh(setup, 'pidguard wait -t 0.2 app.pid');
  assert.equal(timedOut.status, 1);
  assert.match(timedOut.stderr, /app\.pid is still locked after 0\.2 s/);

  const waiter = startScript(t, setup, 'pidguard wait app.pid; echo "waited $?"');
  await blockedOn(setup.pidfile);
  assert.equal(waiter.child.exitCode, null, 'still waiting while the lock is held');
  sh(setup, 'echo go > release.fifo');
  assert.equal(await waiter.nextLine(), 'waited 0');
  assert.deepEqual(await service.exited, { code: 0, signal: null });
});

test('run forwards INT, TERM, HUP, QUIT, USR1 and USR2 to the command and exits with its status', linux, async (t) => {
  const setup = cliSetup(t);
  fs.writeFileSync(path.join(setup.dir, 'service.sh'), `
    for s in INT TERM HUP QUIT USR1 USR2; do trap "echo got $s" $s; done
    echo $$
    while :; do sleep 5 & wait $!; done
  `);
  const service = startScript(t, setup, 'exec pidguard run app.pid -- bash service.sh');
  const commandPid = Number(await service.nextLine());
  const wrapperPid = service.child.pid;
  for (const signal of ['INT', 'TERM', 'HUP', 'QUIT', 'USR1', 'USR2']) {
    process.kill(wrapperPid, `SIG${signal}`);
    assert.equal(await service.nextLine(), `got ${signal}`);
  }
  assert.equal(flockCanTake(setup.pidfile), false, 'the wrapper kept the lock through every signal');
  process.kill(commandPid, 'SIGKILL');
  assert.deepEqual(await service.exited, { code: 128 + 9, signal: null });
  assert.equal(fs.existsSync(setup.pidfile), false);

  assert.equal(sh(setup, `pidguard run app.pid -- bash -c 'exit 7'`).status, 7);
  assert.equal(sh(setup, `pidguard run app.pid -- bash -c 'kill -TERM $$'`).status, 128 + 15);
  assert.equal(fs.existsSync(setup.pidfile), false);
});

test('a command that cannot be run: 127 or 126, and the lock and PID file are given up', linux, (t) => {
  const setup = cliSetup(t);
  assertOneLineError(sh(setup, 'pidguard run app.pid -- no-such-command-here'), 127, /cannot run 'no-such-command-here': command not found/);
  fs.writeFileSync(path.join(setup.dir, 'not-executable'), '#!/bin/sh\n');
  assertOneLineError(sh(setup, 'pidguard run app.pid -- ./not-executable'), 126, /cannot run '.\/not-executable': EACCES/);
  assert.equal(fs.existsSync(setup.pidfile), false);
  assert.equal(sh(setup, 'pidguard run app.pid -- true').status, 0);
});

test('the command inherits the lock: a SIGKILLed wrapper leaves it held by the command', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c '
    echo "$$ $PIDGUARD_LOCK_FD $(readlink /proc/$$/fd/3)"; exec sleep 60'`);
  const [commandPid, lockFd, fd3] = (await service.nextLine()).split(' ');
  assert.equal(lockFd, '3');
  assert.equal(fd3, setup.pidfile);
  await fileHolds(setup.pidfile, `${commandPid}\n`);

  process.kill(service.child.pid, 'SIGKILL');
  await service.exited;
  assert.equal(flockCanTake(setup.pidfile), false, 'the command still holds the lock');
  const refused = sh(setup, 'pidguard run app.pid -- touch ran');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`already running as PID ${commandPid}: sleep 60`));
  assert.equal(sh(setup, 'pidguard status app.pid').stdout, `${commandPid}\n`);

  process.kill(Number(commandPid), 'SIGKILL');
  assert.equal(sh(setup, 'flock --wait 10 app.pid true').status, 0, 'freed when the command died');
  assert.equal(sh(setup, 'pidguard run app.pid -- touch ran').status, 0);
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), true);
});

test('--no-inherit: the command gets no lock descriptor, and the lock ends with the wrapper', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run --no-inherit app.pid -- bash -c '
    echo "$$ \${PIDGUARD_LOCK_FD:-unset} $(readlink /proc/$$/fd/3 || echo closed)"; exec sleep 60'`);
  const [commandPid, lockFd, fd3] = (await service.nextLine()).split(' ');
  assert.equal(lockFd, 'unset');
  assert.notEqual(fd3, setup.pidfile);
  await fileHolds(setup.pidfile, `${commandPid}\n`);
  process.kill(service.child.pid, 'SIGKILL');
  await service.exited;
  assert.equal(flockCanTake(setup.pidfile), true, 'the lock died with the wrapper');
});

test('--pid self records the wrapper rather than the command', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run --pid self app.pid -- bash -c 'echo $$; exec sleep 60'`);
  await service.nextLine();
  assert.equal(fs.readFileSync(setup.pidfile, 'utf8'), `${service.child.pid}\n`);
  assert.equal(sh(setup, 'pidguard stop app.pid').status, 0, 'stopping the wrapper stops the command');
  assert.deepEqual(await service.exited, { code: 128 + 15, signal: null });
});

test('flock(1) and pidguard run exclude each other; run -w waits for flock(1) to let go', linux, async (t) => {
  const setup = cliSetup(t);
  sh(setup, 'mkfifo release.fifo');
  const { child: flock } = await startHolder(t, 'flock', [setup.pidfile, '-c', 'echo held; read -r _ < ' + path.join(setup.dir, 'release.fifo')]);
  const refused = sh(setup, 'pidguard run app.pid -- touch ran');
  assert.equal(refused.status, 1);
  // flock(1) records no PID; the kernel's record names it.
  assert.match(refused.stderr, new RegExp(`already running as PID ${flock.pid}: flock `));

  const patient = startScript(t, setup, 'pidguard run -w 30 app.pid -- bash -c "echo ran \\$\\$; flock --nonblock app.pid true; echo flock-refused \\$?"');
  await blockedOn(setup.pidfile);
  sh(setup, 'echo go > release.fifo');
  assert.match(await patient.nextLine(), /^ran \d+$/);
  assert.equal(await patient.nextLine(), 'flock-refused 1', 'flock(1) cannot take what pidguard holds');
  assert.deepEqual(await patient.exited, { code: 0, signal: null });
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false);
});

test('with PIDGUARD_MODE=pidfile: run refuses a second copy, status reports, stop ends the first', linux, async (t) => {
  const setup = cliSetup(t);
  setup.env.PIDGUARD_MODE = 'pidfile';
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo $$; exec sleep 60'`);
  const commandPid = await service.nextLine();
  await fileHolds(setup.pidfile, `${commandPid}\n`);
  const refused = sh(setup, 'pidguard run app.pid -- touch ran');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`already running as PID ${commandPid}: sleep 60`));
  const status = JSON.parse(sh(setup, 'pidguard status --json app.pid').stdout);
  assert.equal(status.mode, 'pidfile');
  assert.equal(status.pid, Number(commandPid));
  assert.equal(sh(setup, 'pidguard stop app.pid').status, 0);
  assert.deepEqual(await service.exited, { code: 128 + 15, signal: null });
  assert.equal(fs.existsSync(setup.pidfile), false);
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false);
});
