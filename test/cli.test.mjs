// The pidguard command, run as an operator or a startup script runs it: the real executable,
// from bash, with real processes holding and waiting for real locks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { blockedOn, cliSetup, fileHolds, fuseSkip, linesIn, mountNoLockFs, sh, startScript } from './cli-helpers.mjs';
import messages from '../dist/cli/messages.js';
import signals from '../dist/cli/signals.js';
import { flockCanTake, here, root, run, startAgents, startHolder, tempDir } from './helpers.mjs';

const linux = { skip: process.platform !== 'linux' && 'needs bash, flock(1) and /proc/locks', timeout: 60_000 };
const isRoot = process.getuid?.() === 0;
const manifest = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** A user error: one line saying what is wrong (plus the --help hint for usage), never a stack. */
/** The parts of a result a test compares. */
function pick({ status, stdout, stderr }) {
  return { status, stdout, stderr };
}

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
  assert.match(help.stdout, /pidguard run \[options\] <pidfile> \[--\] <command> \[args\.\.\.\]\n {2}pidguard run \[options\] <pidfile> -c <string>/);
  assert.equal(sh(setup, 'pidguard --version').stdout, `pidguard ${manifest.version}\n`);

  assertOneLineError(sh(setup, 'pidguard'), 64, /missing a command/);
  assertOneLineError(sh(setup, 'pidguard launch app.pid'), 64, /unknown command 'launch'/);
  assertOneLineError(sh(setup, 'pidguard run app.pid'), 64, /missing the command/);
  assertOneLineError(sh(setup, 'pidguard run -l app.pid ls'), 64, /^pidguard: run: unknown option '-l'$/m);
  assertOneLineError(sh(setup, 'pidguard run -w soon app.pid -- true'), 64, /-w, --wait takes a number of seconds/);
  // node:util.parseArgs said this in three lines.
  assertOneLineError(sh(setup, 'pidguard run -w -1 app.pid -- true'), 64, /^pidguard: -w, --wait takes a number of seconds or 'forever', got '-1'$/m);
  assertOneLineError(sh(setup, 'pidguard run -E 300 app.pid -- true'), 64, /from 0 to 255/);
  assertOneLineError(sh(setup, 'pidguard run --pid parent app.pid -- true'), 64, /--pid takes 'self' or 'command'/);
  assertOneLineError(sh(setup, 'pidguard run app.pid -c'), 64, /-c takes exactly one string/);
  assertOneLineError(sh(setup, 'pidguard stop -s NOPE app.pid'), 64, /unknown signal 'NOPE'/);
  assertOneLineError(sh(setup, 'pidguard stop -R TERM app.pid'), 64, /-R, --retry: a schedule has at least two items/);
  assertOneLineError(sh(setup, 'pidguard status a.pid b.pid'), 64, /unexpected argument 'b.pid'/);
  for (const mistake of ['pidguard', 'pidguard run -w -1 app.pid -- true', 'pidguard stop --retry 5 -t 5 app.pid']) {
    assert.equal(sh(setup, mistake).stderr.split('\n')[1], "Try 'pidguard --help'.", mistake);
  }
  assert.equal(fs.existsSync(setup.pidfile), false, 'no mistake touched the PID file');
});

test("run reads its options as flock(1) does: they end at the PID file, and what follows is the command's", linux, (t) => {
  const setup = cliSetup(t);
  // Issue 15's three command lines: pidguard took -w 5 and -h for itself, and refused -d.
  assert.deepEqual(pick(sh(setup, 'pidguard run app.pid echo -w 5 done')), { status: 0, stdout: '-w 5 done\n', stderr: '' });
  assert.deepEqual(pick(sh(setup, 'pidguard run app.pid echo -h')), { status: 0, stdout: '-h\n', stderr: '' });
  assert.deepEqual(pick(sh(setup, 'mkdir d; pidguard run app.pid ls -d d')), { status: 0, stdout: 'd\n', stderr: '' });
  // `--` before the PID file or right after it, as before; grouped and attached short options.
  assert.equal(sh(setup, 'pidguard run -nE3 -- app.pid -- echo ok').stdout, 'ok\n');
  // flock(1) and pidguard side by side: the same command line after the lock's file.
  for (const tool of ['flock', 'pidguard run']) {
    const result = sh(setup, `${tool} -w 5 app.pid printf '%s|' -c -n -- -x`);
    assert.deepEqual(pick(result), { status: 0, stdout: '-c|-n|--|-x|', stderr: '' }, tool);
  }
  assert.equal(fs.existsSync(setup.pidfile), false);
});

test("run -c <string> runs the string with /bin/sh -c, as flock(1)'s -c does, under the lock", linux, (t) => {
  const setup = cliSetup(t);
  // A cron line's form; $0 says which shell ran it, and the PID file names the shell.
  const result = sh(setup, `SHELL=/bin/false pidguard run -w 60 app.pid -c 'echo "$0 $$ $(cat app.pid)" && flock -n app.pid true; exit 3'`);
  assert.equal(result.status, 3, result.stderr);
  const [shell, pid, named] = result.stdout.trim().split(' ');
  assert.equal(shell, '/bin/sh', 'not $SHELL, as flock(1) would');
  assert.equal(named, pid, 'the file names the shell running the string');
  assert.equal(sh(setup, "pidguard run app.pid --command 'exit 5'").status, 5);
  assert.equal(fs.existsSync(setup.pidfile), false);
});

test('run -s takes a shared lock and records no PID: readers together, a writer kept out', linux, async (t) => {
  const setup = cliSetup(t);
  sh(setup, 'mkfifo release.fifo');
  const reader = startScript(t, setup, `exec pidguard run -s app.pid -- bash -c 'echo "$$ $(wc -c < app.pid)"; read -r _ < release.fifo'`);
  const [, size] = (await reader.nextLine()).split(' ');
  assert.equal(size, '0', 'no PID written');
  assert.equal(sh(setup, 'pidguard run --shared app.pid -- true').status, 0, 'a second reader runs');
  assert.equal(sh(setup, 'flock -s -n app.pid true').status, 0, "and so does flock -s");
  const writer = sh(setup, 'pidguard run -x app.pid -- touch ran');
  assert.equal(writer.status, 1, writer.stderr);
  assert.equal(sh(setup, 'flock -n app.pid true').status, 1, 'flock -x is kept out too');
  sh(setup, 'echo go > release.fifo');
  assert.deepEqual(await reader.exited, { code: 0, signal: null });
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false);
  assert.equal(fs.existsSync(setup.pidfile), true, 'a shared holder never removes the file');
});

test('a PID file that cannot be used: one line with the code and the path, and the command never runs', linux, (t) => {
  const setup = cliSetup(t);
  const missing = path.join(setup.dir, 'no-such-dir', 'app.pid');
  assertOneLineError(sh(setup, `pidguard run ${missing} -- touch ran`), 71, new RegExp(`^pidguard: ENOENT: .*open '${missing}'`));
  fs.mkdirSync(path.join(setup.dir, 'a-dir.pid'));
  assertOneLineError(sh(setup, 'pidguard run a-dir.pid -- touch ran'), 71, /^pidguard: EISDIR: .*a-dir\.pid'/);
  assertOneLineError(sh(setup, 'pidguard status no-such-dir/app.pid'), 1, /is not locked: not running \(there is no directory .*no-such-dir\)/);
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false);
});

test('a Unix socket at the path: status cannot tell (4), run refuses it with EINVAL (71)', linux, async (t) => {
  const setup = cliSetup(t);
  const server = net.createServer();
  await new Promise((resolve, reject) => server.listen(setup.pidfile, resolve).once('error', reject));
  t.after(() => server.close());
  assertOneLineError(sh(setup, 'pidguard status app.pid'), 4, /cannot tell whether .*app\.pid is locked: a socket stands there, not a PID file/);
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
    mode: 'kernel', checkedBy: 'proc-locks', alive: true, startedAt: undefined, commandLine: 'sleep 60', state: 'running', why: null,
  });

  process.kill(-service.child.pid, 'SIGKILL'); // wrapper and command, as a crash would
  await service.exited;
  assert.equal(sh(setup, 'flock --wait 10 app.pid true').status, 0);
  const stale = sh(setup, 'pidguard status --json app.pid');
  assert.equal(stale.status, 1);
  assert.deepEqual(JSON.parse(stale.stdout), {
    path: setup.pidfile, locked: false, pid: null, holderProof: null, recordedPid: commandPid, recordedPidHolds: false, exists: true,
    mode: 'kernel', checkedBy: 'proc-locks', alive: false, startedAt: null, commandLine: null,
    state: 'stale', why: `${setup.pidfile} is not locked: not running`,
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

test('stop: a holder that ignores the signal outlasts the timeout (exit 2); -s KILL ends it', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'trap "" TERM; echo $$; exec sleep 60'`);
  const commandPid = await service.nextLine();
  const patient = sh(setup, 'pidguard stop -t 0.3 app.pid');
  assert.equal(patient.status, 2, 'as start-stop-daemon when its schedule runs out');
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

/**
 * Every signal `pidguard run` passes on to its command on Linux: all that Node can catch and
 * that would end pidguard or that a service listens for (docs/command.md).
 */
const FORWARDED = ['HUP', 'INT', 'QUIT', 'TRAP', 'ABRT', 'USR1', 'USR2', 'ALRM', 'TERM', 'STKFLT', 'CONT', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS'];

/** The next line the script prints, or what became of it if it exited first. */
function lineOrExit(script) {
  return Promise.race([script.nextLine(), script.exited.then((exit) => ({ exited: exit }))]);
}

/**
 * While the command runs: a second copy is refused naming the holder (the command, or with
 * --no-inherit pidguard itself, which alone has the lock then), the file names the command, and
 * the lock is held.
 */
function assertStillHeldBy(setup, commandPid, when, mode = 'kernel', holderPid = commandPid) {
  const second = sh(setup, 'pidguard run app.pid -- touch ran');
  assert.equal(second.status, 1, `${when}: a second copy was not refused (${second.stderr.trim()})`);
  assert.match(second.stderr, new RegExp(`already running as PID ${holderPid}\\b`), when);
  assert.equal(fs.readFileSync(setup.pidfile, 'utf8'), `${commandPid}\n`, `${when}: the file names the command`);
  if (mode === 'kernel') assert.equal(flockCanTake(setup.pidfile), false, `${when}: the lock is held`);
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false, `${when}: no second copy ran`);
}

for (const inherit of [true, false]) {
  const option = inherit ? '' : '--no-inherit ';
  test(`run ${option}passes on every signal it can catch, once, and none makes it give up the lock`, linux, async (t) => {
    const setup = cliSetup(t);
    fs.writeFileSync(path.join(setup.dir, 'service.sh'), `
      for s in ${FORWARDED.join(' ')}; do trap "echo got $s" $s; done
      echo $$
      while :; do sleep 5 & wait $!; done
    `);
    // ulimit: TRAP, ABRT, QUIT, XCPU, XFSZ and SYS dump core when they kill (as they did pidguard).
    const service = startScript(t, setup, `ulimit -c 0; exec pidguard run ${option}app.pid -- bash service.sh`);
    const commandPid = Number(await service.nextLine());
    await fileHolds(setup.pidfile, `${commandPid}\n`);
    for (const signal of FORWARDED) {
      process.kill(service.child.pid, `SIG${signal}`);
      // The command's "got" line is the barrier; a pidguard that died of the signal ends the wait.
      const outcome = await lineOrExit(service);
      assertStillHeldBy(setup, commandPid, `after SIG${signal}`, 'kernel', inherit ? commandPid : service.child.pid);
      assert.equal(outcome, `got ${signal}`, `SIG${signal} reached the command and pidguard lives on`);
    }
    process.kill(commandPid, 'SIGKILL');
    assert.deepEqual(await service.exited, { code: 128 + 9, signal: null });
    assert.equal(fs.existsSync(setup.pidfile), false, 'removed once the command had ended');
    // Nothing more: each signal was passed on once (SIGABRT and SIGIO have second names in Node,
    // SIGIOT and SIGPOLL, and a listener on one name alone is not called for the other).
    await service.closed;
    await assert.rejects(service.nextLine(), /output ended/);
  });
}

test("docs/command.md and --help name the signals run passes on, word for word as the code lists them", linux, (t) => {
  const setup = cliSetup(t);
  assert.deepEqual(signals.FORWARDED_SIGNALS, FORWARDED.map((name) => `SIG${name}`), 'the list these tests send');
  const readme = fs.readFileSync(path.join(root, 'docs', 'command.md'), 'utf8');
  const listed = /Signals passed on to the command, on Linux: ([^.]*)\./.exec(readme)?.[1].replace(/\s+/g, ' ');
  const names = signals.FORWARDED_SIGNALS;
  assert.equal(listed, `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`);
  const help = sh(setup, 'pidguard --help').stdout;
  assert.match(help.replace(/\s+/g, ' '), new RegExp(`these signals on to it \\(those this system has\\): ${FORWARDED.join(' ')} and exit`));
});

test("docs/command.md's exit-status table has a row for each of pidguard's own statuses, and no other", linux, () => {
  const readme = fs.readFileSync(path.join(root, 'docs', 'command.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| exit status | meaning |'));
  const rows = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| (\d+)\b/gm)].map((match) => Number(match[1]));
  assert.deepEqual(rows, [0, ...new Set(Object.values(messages.EXIT))].sort((a, b) => a - b));
});

test('pidguard failing while its command runs (uncaught error, unhandled rejection, process.exit) leaves the command holding the lock', linux, async (t) => {
  const setup = cliSetup(t);
  const fixture = path.join(here, 'fixtures', 'cli-fault.cjs');
  for (const [fault, status] of [['throw', 1], ['reject', 1], ['exit', 3]]) {
    const faults = fs.mkdtempSync(path.join(setup.dir, 'faults-'));
    const service = startScript(t, setup, `NODE_OPTIONS="--require ${fixture}" PIDGUARD_TEST_FAULT_DIR=${faults} \
      exec pidguard run app.pid -- bash -c 'echo $$; exec sleep 60'`);
    const commandPid = Number(await service.nextLine());
    await fileHolds(setup.pidfile, `${commandPid}\n`);
    fs.writeFileSync(path.join(faults, fault), '');
    assert.equal((await service.exited).code, status, `${fault}: ${service.stderr()}`);
    assertStillHeldBy(setup, commandPid, `after pidguard's ${fault}`);
    process.kill(commandPid, 'SIGKILL');
    assert.equal(sh(setup, 'flock --wait 10 app.pid true').status, 0, `${fault}: freed when the command died`);
    fs.rmSync(setup.pidfile);
  }
});

test('a command that cannot be run: 127 when not found, 126 when it cannot be executed, never 71; the lock and file are given up', linux, (t) => {
  const setup = cliSetup(t);
  const write = (name, text, mode) => fs.writeFileSync(path.join(setup.dir, name), text, { mode });
  write('not-executable', '#!/bin/sh\n', 0o644);
  write('no-interpreter', '#!/no/such/interpreter\n', 0o755);
  write('not-a-program', 'neither ELF nor #!\n\0\0', 0o755);
  fs.symlinkSync('loop', path.join(setup.dir, 'loop'));
  fs.mkdirSync(path.join(setup.dir, 'a-directory'));
  const tooLong = 'x'.repeat(300); // over NAME_MAX (255)
  for (const [command, status, pattern] of [
    ['no-such-command-here', 127, /cannot run 'no-such-command-here': command not found$/m],
    ['./no-such-file', 127, /cannot run '.\/no-such-file': command not found$/m],
    ['./not-executable', 126, /cannot run '.\/not-executable': EACCES: permission denied$/m],
    ['./a-directory', 126, /cannot run '.\/a-directory': EACCES: permission denied$/m],
    ['./loop', 126, /cannot run '.\/loop': ELOOP: too many symbolic links encountered$/m],
    ['./not-a-program', 126, /cannot run '.\/not-a-program': ENOEXEC: exec format error$/m],
    ['./no-interpreter', 126, /cannot run '.\/no-interpreter': ENOENT: its #! interpreter or its loader was not found$/m],
    [tooLong, 126, new RegExp(`cannot run '${tooLong}': ENAMETOOLONG: name too long$`, 'm')],
  ]) {
    assertOneLineError(sh(setup, `pidguard run app.pid -- ${command}`), status, pattern);
    assert.equal(fs.existsSync(setup.pidfile), false, `${command}: the PID file was removed`);
  }
  assert.equal(sh(setup, 'pidguard run app.pid -- true').status, 0, 'and the lock was given up');
});

test("run exits with the command's code, or 128+N for every signal N that kills it, the real-time ones included", linux, (t) => {
  const setup = cliSetup(t);
  // Every signal whose default action ends a process: all but those ignored (CHLD, CONT, URG,
  // WINCH) and those that stop it (STOP, TSTP, TTIN, TTOU). Node names none of 32 to 64.
  const lethal = Array.from({ length: 64 }, (_, i) => i + 1).filter((n) => ![17, 18, 19, 20, 21, 22, 23, 28].includes(n));
  // Four at a time, each on a PID file of its own; ulimit: some of them dump core.
  const result = sh(setup, `ulimit -c 0; printf '%s\\n' ${lethal.join(' ')} | xargs -P 4 -I N \\
    sh -c 'pidguard run app-N.pid -- sh -c "kill -N \\$\\$; exit 99"; echo "N $?"'`, { timeout: 60_000 });
  const statuses = new Map(result.stdout.trim().split('\n').map((line) => line.split(' ').map(Number)));
  assert.deepEqual([...statuses.keys()].sort((a, b) => a - b), lethal, result.stderr);
  for (const n of lethal) assert.equal(statuses.get(n), 128 + n, `killed by signal ${n}`);
  for (const code of [0, 1, 7, 126, 255]) assert.equal(sh(setup, `pidguard run app.pid -- sh -c 'exit ${code}'`).status, code);
});

/** Each process of the PID namespace that `pid` (a host PID) is in: host PID, parent, state, and PID inside. */
function namespaceProcesses(pid) {
  const namespace = fs.readlinkSync(`/proc/${pid}/ns/pid`);
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      if (fs.readlinkSync(`/proc/${name}/ns/pid`) !== namespace) return [];
      const fields = Object.fromEntries(fs.readFileSync(`/proc/${name}/status`, 'utf8').split('\n').map((line) => line.split(':\t')));
      return [{ pid: Number(name), ppid: Number(fields.PPid), state: fields.State[0], inside: Number(fields.NSpid.split('\t').at(-1)) }];
    } catch {
      return []; // gone meanwhile
    }
  });
}

/** Resolves once process `pid` is gone from /proc: reaped, not merely dead (a zombie stays listed). */
async function reaped(pid, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (fs.existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) {
      const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      throw new Error(`process ${pid} was not reaped within ${timeoutMs} ms (state ${state})`);
    }
    await sleep(10);
  }
}

const asRoot = { ...linux, skip: linux.skip || (!isRoot && 'unshare --pid needs root') };

test("as a container's PID 1: reaps the orphans it inherits, passes SIGTERM on, and exits with the command's status", asRoot, async (t) => {
  const setup = cliSetup(t);
  sh(setup, 'mkfifo orphan.fifo');
  fs.writeFileSync(path.join(setup.dir, 'service.sh'), `
    trap 'echo got TERM; exit 143' TERM
    # An orphan: the inner sh starts it in the background and exits at once, so the kernel
    # gives it to the namespace's PID 1, pidguard.
    sh -c '(read -r _ < orphan.fifo; echo orphan ended) & echo "orphan $!"'
    echo "ready $$"
    while :; do sleep 5 & wait $!; done
  `);
  // ENTRYPOINT ["pidguard", "run", ...] as a container runtime starts it: PID 1 of a new namespace.
  const service = startScript(t, setup, 'exec unshare --pid --fork --mount-proc pidguard run app.pid -- bash service.sh');
  const orphanInside = Number((await service.nextLine()).split(' ')[1]);
  assert.match(await service.nextLine(), /^ready \d+$/);
  const [init] = fs.readFileSync(`/proc/${service.child.pid}/task/${service.child.pid}/children`, 'utf8').trim().split(' ').map(Number);
  const inside = namespaceProcesses(init);
  assert.equal(inside.find((p) => p.pid === init)?.inside, 1, 'pidguard is PID 1 there');
  const orphan = inside.find((p) => p.inside === orphanInside);
  assert.equal(orphan?.ppid, init, 'the orphan was given to pidguard');

  sh(setup, 'echo go > orphan.fifo');
  assert.equal(await service.nextLine(), 'orphan ended');
  await reaped(orphan.pid);
  assert.deepEqual(namespaceProcesses(init).filter((p) => p.state === 'Z'), [], 'no zombie under PID 1');

  process.kill(init, 'SIGTERM'); // as `docker stop` sends it, from outside the namespace
  assert.equal(await service.nextLine(), 'got TERM');
  assert.deepEqual(await service.exited, { code: 143, signal: null }, 'unshare passes on what PID 1 exited with');
  assert.equal(fs.existsSync(setup.pidfile), false);
});

test("as a container's PID 1, waiting for the lock (-w): SIGTERM ends the wait, and the command never runs", asRoot, async (t) => {
  const setup = cliSetup(t);
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: setup.pidfile });
  const service = startScript(t, setup, 'exec unshare --pid --fork --mount-proc pidguard run -w 60 app.pid -- touch ran');
  // pidguard waits inside the namespace: the kernel lists it as a blocked waiter on the file.
  const { ino } = fs.statSync(setup.pidfile);
  while (!fs.readFileSync('/proc/locks', 'utf8').split('\n').some((line) => line.includes('->') && line.trim().endsWith(`:${ino} 0 EOF`))) await sleep(10);
  const [init] = fs.readFileSync(`/proc/${service.child.pid}/task/${service.child.pid}/children`, 'utf8').trim().split(' ').map(Number);
  process.kill(init, 'SIGTERM'); // `docker stop`
  const exited = await Promise.race([service.exited, sleep(10_000).then(() => 'still waiting')]);
  assert.deepEqual(exited, { code: 143, signal: null }, 'PID 1 ignored SIGTERM while it waited');
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false, 'the command ran after all');
  assert.equal((await holder.ask({ op: 'release' })).ok, true);
});

test('a worker torn down while a command it started runs: terminate() settles, and the command is reaped when it ends', linux, async (t) => {
  const dir = tempDir(t);
  const fifo = path.join(dir, 'release.fifo');
  assert.equal(run('mkfifo', [fifo]).status, 0);
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const native = require(workerData.native).binding();
    const child = native.spawnChild('sh', ['sh', '-c', 'read -r _ < "$0"', workerData.fifo], ['PATH=' + process.env.PATH], -1, false, () => {});
    if (native.execChild(child) !== 0) throw new Error('could not run sh');
    parentPort.postMessage(native.childPid(child));
    setInterval(() => {}, 1000); // busy until terminated
  `, { eval: true, workerData: { native: path.join(root, 'dist', 'addon', 'binding.js'), fifo } });
  const pid = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
  assert.ok(pid > 0, `started: ${pid}`);
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // reaped, as it should be
    }
  });
  await worker.terminate();
  assert.equal(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0], 'S', 'the command runs on');
  fs.writeFileSync(fifo, 'go\n');
  await reaped(pid);
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

test('a command that closes its inherited fd 3 gives its share up: a SIGKILLed wrapper then leaves the lock free (docs/command.md says so)', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'exec 3>&-; echo $$; exec sleep 60'`);
  const commandPid = Number(await service.nextLine());
  await fileHolds(setup.pidfile, `${commandPid}\n`);
  assert.equal(flockCanTake(setup.pidfile), false, 'held by pidguard while it lives');
  process.kill(service.child.pid, 'SIGKILL');
  await service.exited;
  assert.equal(flockCanTake(setup.pidfile), true, 'nothing holds it now, though the command runs on');
  assert.equal(fs.readFileSync(`/proc/${commandPid}/stat`, 'utf8').split(') ')[1][0], 'S');
});

for (const mode of ['kernel', 'pidfile']) {
  test(`the file names the command before it runs, and a pidguard SIGKILLed at once leaves no second copy [${mode}]`, linux, async (t) => {
    const setup = cliSetup(t);
    setup.env.PIDGUARD_MODE = mode;
    // The command's first act: read the file. pidguard kills come straight after.
    const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo "$$ $(cat app.pid)"; exec sleep 60'`);
    const [commandPid, named] = (await service.nextLine()).split(' ').map(Number);
    process.kill(service.child.pid, 'SIGKILL');
    await service.exited;
    assert.equal(named, commandPid, 'the file named the command when it started');
    assertStillHeldBy(setup, commandPid, 'after pidguard was SIGKILLed', mode);
  });
}

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

test("--pid self is refused in mode 'pidfile', where the file must name the command (PIDGUARD_MODE=pidfile)", linux, (t) => {
  const setup = cliSetup(t);
  setup.env.PIDGUARD_MODE = 'pidfile';
  const refusal = /^pidguard: --pid self cannot be used: mode 'pidfile' \(PIDGUARD_MODE\) holds app\.pid, where the file must name the command, the live holder/m;
  assertOneLineError(sh(setup, 'pidguard run --pid self app.pid -- touch ran'), 64, refusal);
  assert.equal(fs.existsSync(setup.pidfile), false, 'the file was never made');
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false, 'the command never ran');
});

test("--pid self is refused where mode 'auto' fell back to 'pidfile' (a file system without locks)", { ...linux, skip: linux.skip || fuseSkip }, async (t) => {
  const setup = cliSetup(t);
  const mount = await mountNoLockFs(t);
  const result = sh(setup, `pidguard run --pid self ${mount}/app.pid -- touch ran`);
  assert.equal(result.status, 64, result.stderr);
  // The fallback's warning (a Node warning, printed in the command's voice) comes when the event
  // loop gets to it: the two lines, in either order.
  assert.deepEqual(result.stderr.split('\n').filter(Boolean).sort(), [
    `pidguard: --pid self cannot be used: ${mount}/app.pid is on a file system that refuses locks, ` +
      "so mode 'pidfile' holds it, where the file must name the command, the live holder that keeps a second copy out if pidguard is killed",
    `pidguard: warning: ${mount}: the file system refuses locks (ENOLCK); using PID files with stale-PID detection there`,
  ]);
  assert.equal(fs.existsSync(`${mount}/app.pid`), false, 'the file it held was removed');
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false, 'the command never ran');
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

test("mode pidfile: a command that ended by itself exits with its own status, even when another run took the file before pidguard heard of it", linux, async (t) => {
  const setup = cliSetup(t);
  const env = { ...setup.env, PIDGUARD_MODE: 'pidfile' };
  // The command stops pidguard, then exits: the file names a command that has ended (a zombie,
  // not reaped), which a second run rightly takes over, before the first pidguard goes on.
  const first = startScript(t, { ...setup, env }, `exec pidguard run app.pid -- sh -c 'kill -STOP $PPID; exit 7'`);
  const wrapper = first.child.pid;
  while (!/^State:\s+T/m.test(fs.readFileSync(`/proc/${wrapper}/status`, 'utf8'))) await sleep(10);
  const second = startScript(t, { ...setup, env }, `exec pidguard run app.pid -- sh -c 'echo started; read _ < /dev/tty 2>/dev/null || sleep 30'`);
  assert.equal(await second.nextLine(), 'started');
  process.kill(wrapper, 'SIGCONT');
  assert.deepEqual(await first.exited, { code: 7, signal: null }, 'the first run reported its command as stopped for a lost lock');
  assert.match(fs.readFileSync(setup.pidfile, 'utf8'), /^\d+\n$/);
});
