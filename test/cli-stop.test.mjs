// `pidguard stop` as start-stop-daemon --stop does it, from bash: --retry schedules, --oknodo,
// exit 0 / 1 / 2, and the command of a `pidguard run` wrapper signalled itself, so that a KILL
// reaches the service rather than leaving it running without its wrapper.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cliSetup, fileHolds, sh, startScript } from './cli-helpers.mjs';
import { flockCanTake, run } from './helpers.mjs';

const linux = { skip: process.platform !== 'linux' && 'needs bash and /proc', timeout: 60_000 };
const hasStartStopDaemon = run('bash', ['-c', 'command -v start-stop-daemon']).status === 0;

/** Whether process `pid` runs: not gone, and not a zombie. */
function running(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] !== 'Z';
  } catch {
    return false;
  }
}

/** A `pidguard run` whose command ignores SIGTERM, SIGINT and SIGHUP; resolves with the script and the command's PID once the file names `who`. */
async function stubborn(t, setup, options = '', who = 'command') {
  const service = startScript(t, setup, `exec pidguard run ${options} app.pid -- bash -c 'trap "" TERM INT HUP; echo $$; exec sleep 60'`);
  const commandPid = Number(await service.nextLine());
  await fileHolds(setup.pidfile, `${who === 'command' ? commandPid : service.child.pid}\n`);
  return { service, commandPid };
}

test('--retry TERM/0.3/KILL/5: TERM, a wait, then KILL; exit 0 once the lock is free', linux, async (t) => {
  const setup = cliSetup(t);
  const { service } = await stubborn(t, setup);
  const stop = sh(setup, 'pidguard stop --retry TERM/0.3/KILL/5 app.pid');
  assert.equal(stop.status, 0, stop.stderr);
  assert.deepEqual(await service.exited, { code: 128 + 9, signal: null }, 'the command died of the KILL');
  assert.equal(flockCanTake(setup.pidfile), true);
});

test('--retry <seconds> is <signal>/<seconds>/KILL/<seconds>, with -s for the signal', linux, async (t) => {
  const setup = cliSetup(t);
  const { service } = await stubborn(t, setup);
  const stop = sh(setup, 'pidguard stop -s INT -R 0.3 app.pid');
  assert.equal(stop.status, 0, stop.stderr);
  assert.deepEqual(await service.exited, { code: 128 + 9, signal: null });
});

test('a schedule that runs out with the lock still held exits 2, naming the holder; forever goes on until it is free', linux, async (t) => {
  const setup = cliSetup(t);
  const { service, commandPid } = await stubborn(t, setup);
  const stop = sh(setup, 'pidguard stop --retry TERM/0.2/HUP/0.2 app.pid');
  assert.equal(stop.status, 2, stop.stderr);
  assert.match(stop.stderr, new RegExp(`^pidguard: PID ${commandPid} still holds .*app\\.pid 0\\.2 s after SIGHUP; to force it: pidguard stop -s KILL `));
  assert.equal(running(commandPid), true);
  process.kill(commandPid, 'SIGKILL');
  await service.exited;

  // TERM every 0.1 s, forever, to a command that only says so: its second "got TERM" shows the
  // schedule repeating; only the lock's release ends it. (Its sleeps get no fd 3: they would hold the lock.)
  const again = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'trap "echo got TERM" TERM; echo $$; while :; do sleep 5 3>&- & wait $!; done'`);
  const againPid = Number(await again.nextLine());
  await fileHolds(setup.pidfile, `${againPid}\n`);
  const forever = startScript(t, setup, 'pidguard stop -R forever/TERM/0.1 app.pid; echo "stop $?"');
  assert.equal(await again.nextLine(), 'got TERM');
  assert.equal(await again.nextLine(), 'got TERM');
  process.kill(againPid, 'SIGKILL');
  assert.equal(await forever.nextLine(), 'stop 0');
});

test('nothing holds it: 1 ("nothing done"), 0 with --oknodo; no directory is named as missing', linux, (t) => {
  const setup = cliSetup(t);
  const none = sh(setup, 'pidguard stop app.pid');
  assert.deepEqual([none.status, none.stderr], [1, `pidguard: nothing holds ${setup.pidfile} (there is no such file)\n`]);
  assert.equal(sh(setup, 'pidguard stop --oknodo app.pid').status, 0);
  assert.equal(sh(setup, 'pidguard stop -o --retry TERM/1/KILL/1 app.pid').status, 0);
  fs.writeFileSync(setup.pidfile, '2147483647\n');
  assert.match(sh(setup, 'pidguard stop app.pid').stderr, /nothing holds .*app\.pid \(it names PID 2147483647, which does not hold the lock\)/);
  const deep = sh(setup, 'pidguard stop no-such-dir/app.pid');
  assert.deepEqual([deep.status, deep.stderr], [1, `pidguard: nothing holds ${setup.dir}/no-such-dir/app.pid (there is no directory ${setup.dir}/no-such-dir)\n`]);
  fs.mkdirSync(path.join(setup.dir, 'a-dir.pid'));
  const typo = sh(setup, 'pidguard stop --oknodo a-dir.pid');
  assert.equal(typo.status, 4, '--oknodo does not make a typo a success');
  assert.match(typo.stderr, /cannot tell whether .*a-dir\.pid is locked: a directory stands there/);
});

test('--pid self: the wrapper holds the lock, and its command, which inherited it, is what stop signals (KILL included)', linux, async (t) => {
  const setup = cliSetup(t);
  const { service, commandPid } = await stubborn(t, setup, '--pid self', 'wrapper');
  // KILL sent to the wrapper would end it alone, and leave the command running with the lock.
  const stop = sh(setup, 'pidguard stop -s KILL -t 5 app.pid');
  assert.equal(stop.status, 0, stop.stderr);
  assert.equal(running(commandPid), false, 'the command was killed');
  assert.deepEqual(await service.exited, { code: 128 + 9, signal: null }, 'and the wrapper exited with its status');
  assert.equal(flockCanTake(setup.pidfile), true);
});

test('--no-inherit: the wrapper alone holds the lock; its command, which the file names, is what stop signals', linux, async (t) => {
  const setup = cliSetup(t);
  const { service, commandPid } = await stubborn(t, setup, '--no-inherit');
  // KILL sent to the wrapper would free the lock and leave the command running.
  const stop = sh(setup, 'pidguard stop -s KILL app.pid');
  assert.equal(stop.status, 0, stop.stderr);
  assert.equal(running(commandPid), false, 'the command was killed, not orphaned');
  assert.deepEqual(await service.exited, { code: 128 + 9, signal: null });
});

test('a command that started children sharing its lock is signalled itself, not a child', linux, async (t) => {
  const setup = cliSetup(t);
  // bash (the command) runs sleep as a child, which inherits fd 3 and PIDGUARD_LOCK_FD.
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'trap "echo got TERM; exit 7" TERM; echo $$; sleep 60 & wait'`);
  const commandPid = Number(await service.nextLine());
  await fileHolds(setup.pidfile, `${commandPid}\n`);
  const stop = startScript(t, setup, 'pidguard stop -t 10 app.pid; echo "stop $?"');
  assert.equal(await service.nextLine(), 'got TERM');
  assert.deepEqual(await service.exited, { code: 7, signal: null });
  sh(setup, `pkill -KILL -P ${commandPid} sleep || true`);
  assert.equal(await stop.nextLine(), 'stop 0');
});

test('exit statuses side by side with start-stop-daemon --stop', { ...linux, skip: linux.skip || (!hasStartStopDaemon && "no start-stop-daemon (Debian's dpkg; .ci/run checks for it)") }, async (t) => {
  const setup = cliSetup(t);
  const outcomes = {};
  for (const tool of ['start-stop-daemon --stop --pidfile app.pid', 'pidguard stop']) {
    const pidfileLast = tool === 'pidguard stop' ? ' app.pid' : '';
    const ran = [];
    let service = (await stubborn(t, setup)).service;
    ran.push(sh(setup, `${tool} --retry TERM/1${pidfileLast}`).status); // ran out: 2
    ran.push(sh(setup, `${tool} --retry TERM/1/KILL/5${pidfileLast}`).status); // stopped: 0
    await service.exited;
    ran.push(sh(setup, `${tool} --retry TERM/1/KILL/5${pidfileLast}`).status); // nothing to stop: 1
    ran.push(sh(setup, `${tool} --oknodo --retry 1${pidfileLast}`).status); // and --oknodo: 0
    service = (await stubborn(t, setup)).service;
    ran.push(sh(setup, `${tool} --retry 1${pidfileLast}`).status); // TERM/1/KILL/1: 0
    await service.exited;
    outcomes[tool.split(' ')[0]] = ran;
  }
  assert.deepEqual(outcomes['pidguard'], [2, 0, 1, 0, 0]);
  assert.deepEqual(outcomes['pidguard'], outcomes['start-stop-daemon']);
});
