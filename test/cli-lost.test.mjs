// `pidguard run` whose PID file is removed or replaced behind it (an operator's rm, a tmp
// cleaner): it takes the path again at once, or, when another copy got it first, stops its
// command (TERM, then KILL after --kill-after) and exits 69; never two commands left running
// once the bound of docs/command.md (detection plus the grace) has passed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliSetup, fileHolds, sh, startScript } from './cli-helpers.mjs';
import { flockCanTake, run } from './helpers.mjs';

const linux = { skip: process.platform !== 'linux' && 'needs bash and /proc', timeout: 60_000 };
const hasStrace = run('bash', ['-c', 'command -v strace']).status === 0;

/** docs/command.md's bound on two commands running at once: detection (1 s at most, polling) plus --kill-after. */
const DETECTION_MS = 1000;
/** Room for a loaded machine to deliver, reap and report, on top of the bound. */
const SLACK_MS = 3000;

/** Whether process `pid` runs: not gone, and not a zombie (dead, waiting to be reaped). */
function running(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] !== 'Z';
  } catch {
    return false;
  }
}

/** The next line the script prints, or what became of it if it exited first. */
function lineOrExit(script) {
  const exited = script.exited.then((exit) => ({ exited: exit }));
  return Promise.race([script.nextLine().catch(() => exited), exited]);
}

/** A service that ignores SIGTERM (so that only the KILL after --kill-after ends it) and prints `<name> <its PID>`. */
function service(name, options = '') {
  return `exec pidguard run ${options} app.pid -- bash -c 'trap "" TERM; echo "${name} $$"; exec sleep 60'`;
}

const pidOf = (line) => Number(line.split(' ')[1]);

for (const mode of ['kernel', 'pidfile']) {
  test(`removed, or replaced by another file: taken again at once, naming the command; a second copy is refused [${mode}]`, linux, async (t) => {
    const setup = cliSetup(t);
    setup.env.PIDGUARD_MODE = mode;
    const first = startScript(t, setup, service('one'));
    const commandPid = pidOf(await first.nextLine());
    await fileHolds(setup.pidfile, `${commandPid}\n`);
    for (const [how, script] of [['rm', 'rm app.pid'], ['mv', 'echo 2147483647 > new.pid && mv new.pid app.pid']]) {
      const inode = fs.statSync(setup.pidfile).ino;
      sh(setup, script);
      await fileHolds(setup.pidfile, `${commandPid}\n`);
      // (In mode 'pidfile' nothing keeps the old file open, and its inode number may come round at once.)
      if (mode === 'kernel') assert.notEqual(fs.statSync(setup.pidfile).ino, inode, `${how}: a new file`);
      const second = sh(setup, 'pidguard run app.pid -- touch ran');
      assert.equal(second.status, 1, `${how}: ${second.stderr}`);
      if (mode === 'kernel') assert.equal(flockCanTake(setup.pidfile), false, `${how}: locked`);
    }
    assert.equal(running(commandPid), true, 'the command runs on');
    assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false);
    process.kill(commandPid, 'SIGKILL');
    assert.equal((await first.exited).code, 128 + 9);
    assert.equal(fs.existsSync(setup.pidfile), false, 'the file taken again is removed at the end');
    const warnings = first.stderr().trim().split('\n');
    assert.deepEqual(warnings, Array(2).fill(`pidguard: warning: ${setup.pidfile} was removed or replaced; took it again, naming PID ${commandPid} again`));
  });
}

test('rm, and a second pidguard run started at once: once the bound has passed, one command runs and the file names it', linux, async (t) => {
  const setup = cliSetup(t);
  const first = startScript(t, setup, service('one', '--kill-after 1'));
  const onePid = pidOf(await first.nextLine());
  await fileHolds(setup.pidfile, `${onePid}\n`);
  const second = startScript(t, setup, `rm app.pid; ${service('two')}`);
  const outcome = await lineOrExit(second);
  if (typeof outcome === 'string') {
    // The second copy locked the new file first: the first stops its command and exits 69.
    const twoPid = pidOf(outcome);
    const ended = await Promise.race([first.exited, sleep(DETECTION_MS + 1000 + SLACK_MS).then(() => null)]);
    assert.deepEqual(ended, { code: 69, signal: null }, `the first exited 69 within the bound; ${first.stderr()}`);
    assert.equal(running(onePid), false, "the first's command is gone");
    assert.equal(running(twoPid), true);
    assert.equal(fs.readFileSync(setup.pidfile, 'utf8'), `${twoPid}\n`);
  } else {
    // The first took the path again first: the second was refused, naming it.
    assert.equal(outcome.exited.code, 1, second.stderr());
    assert.match(second.stderr(), new RegExp(`already running as PID (${onePid}|${first.child.pid})\\b`));
    assert.equal(running(onePid), true);
    await fileHolds(setup.pidfile, `${onePid}\n`);
  }
});

test('rm, and a second pidguard run takes the path before the first can look: the first stops its command (TERM, then KILL) and exits 69', linux, async (t) => {
  const setup = cliSetup(t);
  const first = startScript(t, setup, service('one', '--kill-after 1'));
  const onePid = pidOf(await first.nextLine());
  await fileHolds(setup.pidfile, `${onePid}\n`);
  // Stopped, the first sees nothing until it is let go: the second copy is sure to win.
  process.kill(first.child.pid, 'SIGSTOP');
  const second = startScript(t, setup, `rm app.pid; ${service('two')}`);
  const twoPid = pidOf(await second.nextLine());
  await fileHolds(setup.pidfile, `${twoPid}\n`);
  assert.equal(running(onePid), true, 'two commands run now: no PID-file tool can prevent it');
  process.kill(first.child.pid, 'SIGCONT');
  const ended = await Promise.race([first.exited, sleep(DETECTION_MS + 1000 + SLACK_MS).then(() => null)]);
  assert.deepEqual(ended, { code: 69, signal: null }, `exited 69 within the bound; ${first.stderr()}`);
  assert.equal(running(onePid), false, 'its command was killed (it ignores SIGTERM)');
  assert.equal(running(twoPid), true, "the second's command runs on");
  assert.equal(fs.readFileSync(setup.pidfile, 'utf8'), `${twoPid}\n`, 'and the file names it');
  assert.equal(sh(setup, 'pidguard status app.pid').stdout, `${twoPid}\n`);
  await first.closed;
  assert.equal(first.stderr(), `pidguard: ${setup.pidfile} was removed or replaced, and PID ${twoPid} holds it now: ` +
    `stopping the command (PID ${onePid}) with SIGTERM, then SIGKILL after 1 s\n`);
});

test('replaced by a file flock(1) holds: the command is stopped with TERM, and pidguard exits 69', linux, async (t) => {
  const setup = cliSetup(t);
  const first = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'trap "echo got TERM; exit 0" TERM; echo "one $$"; while :; do sleep 5 & wait $!; done'`);
  const onePid = pidOf(await first.nextLine());
  await fileHolds(setup.pidfile, `${onePid}\n`);
  sh(setup, 'mkfifo release.fifo');
  const flock = startScript(t, setup, 'exec flock new.pid -c "mv new.pid app.pid; echo moved; read -r _ < release.fifo"');
  assert.equal(await flock.nextLine(), 'moved');
  assert.equal(await first.nextLine(), 'got TERM');
  assert.deepEqual(await first.exited, { code: 69, signal: null });
  assert.match(first.stderr(), /app\.pid was removed or replaced, and PID \d+ holds it now: stopping the command/);
  assert.equal(fs.existsSync(setup.pidfile), true, "flock(1)'s file is left alone");
  sh(setup, 'echo go > release.fifo');
  await flock.exited;
});

test('its directory removed too: the command runs on, and the path is taken again when the directory comes back', linux, async (t) => {
  const setup = cliSetup(t);
  fs.mkdirSync(path.join(setup.dir, 'run'));
  const file = path.join(setup.dir, 'run', 'app.pid');
  const first = startScript(t, setup, `exec pidguard run run/app.pid -- bash -c 'echo "one $$"; exec sleep 60'`);
  const onePid = pidOf(await first.nextLine());
  await fileHolds(file, `${onePid}\n`);
  sh(setup, 'rm -r run');
  // The barrier: the warning that it cannot be taken again for now.
  for (let i = 0; !first.stderr().includes('cannot be taken again for now'); i += 1) {
    assert.ok(i < 1500, `no warning: ${first.stderr()}`);
    await sleep(10);
  }
  assert.equal(running(onePid), true);
  fs.mkdirSync(path.join(setup.dir, 'run'));
  await fileHolds(file, `${onePid}\n`);
  assert.equal(flockCanTake(file), false);
  assert.match(first.stderr(), /took it again, naming PID \d+ again\n$/);
});

test('without inotify (inotify_init1 fails: EMFILE), a removed file is seen by a look every second and taken again', { ...linux, skip: linux.skip || (!hasStrace && 'needs strace (.ci/run installs it)') }, async (t) => {
  const setup = cliSetup(t);
  const trace = path.join(setup.dir, 'trace');
  const first = startScript(t, setup, `exec strace -f -qq -o ${trace} -e trace=inotify_init1,inotify_init -e inject=inotify_init1:error=EMFILE -e signal=none \
    pidguard run app.pid -- bash -c 'echo "one $$"; exec sleep 60'`);
  const onePid = pidOf(await first.nextLine());
  await fileHolds(setup.pidfile, `${onePid}\n`);
  fs.rmSync(setup.pidfile);
  const removedAt = performance.now();
  await fileHolds(setup.pidfile, `${onePid}\n`, DETECTION_MS + SLACK_MS);
  assert.ok(performance.now() - removedAt < DETECTION_MS + SLACK_MS);
  assert.match(fs.readFileSync(trace, 'utf8'), /inotify_init1\(.*\) = -1 EMFILE .*\(INJECTED\)/, 'inotify was refused');
  assert.equal(flockCanTake(setup.pidfile), false);
});
