// `pidguard status` as health checks and init scripts read it, from bash: running (0), not
// running (1; LSB's 1 and 3 with --lsb), and "cannot tell" (4), never a typo read as "down".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { cliSetup, fileHolds, sh, startScript } from './cli-helpers.mjs';
import { run } from './helpers.mjs';

const linux = { skip: process.platform !== 'linux' && 'needs bash and /proc', timeout: 60_000 };
const isRoot = process.getuid?.() === 0;
const asRoot = { ...linux, skip: linux.skip || (!isRoot && 'needs root: setpriv, unshare') };
const hasStartStopDaemon = run('bash', ['-c', 'command -v start-stop-daemon']).status === 0;

/** status's exit code, stdout and stderr, and --lsb's exit code, for `file`. */
function statusOf(setup, file) {
  const plain = sh(setup, `pidguard status ${file}`);
  const lsb = sh(setup, `pidguard status --lsb ${file}`);
  return { status: plain.status, lsb: lsb.status, stdout: plain.stdout, stderr: plain.stderr };
}

test('not running: no file, or no directory (named), is 1, LSB 3; a file nobody holds is 1, LSB 1', linux, (t) => {
  const setup = cliSetup(t);
  assert.deepEqual(statusOf(setup, 'app.pid'), {
    status: 1, lsb: 3, stdout: '', stderr: `pidguard: ${setup.pidfile} is not locked: not running (there is no such file)\n`,
  });
  const deep = path.join(setup.dir, 'no-such-dir', 'deeper', 'app.pid');
  assert.deepEqual(statusOf(setup, deep), {
    status: 1, lsb: 3, stdout: '', stderr: `pidguard: ${deep} is not locked: not running (there is no directory ${path.join(setup.dir, 'no-such-dir')})\n`,
  });
  // A killed holder's file, whatever it holds: the kernel lock says nobody runs.
  for (const text of ['99999999\n', 'garbage\n', '']) {
    fs.writeFileSync(setup.pidfile, text);
    assert.deepEqual(statusOf(setup, 'app.pid'), { status: 1, lsb: 1, stdout: '', stderr: `pidguard: ${setup.pidfile} is not locked: not running\n` }, JSON.stringify(text));
  }
});

test('cannot tell (4, LSB 4), in one line: a directory, symlink, socket, FIFO or device at the path, or a file on the way', linux, async (t) => {
  const setup = cliSetup(t);
  fs.mkdirSync(path.join(setup.dir, 'a-dir.pid'));
  fs.writeFileSync(path.join(setup.dir, 'target'), '1\n');
  fs.symlinkSync('target', path.join(setup.dir, 'link.pid'));
  sh(setup, 'mkfifo fifo.pid');
  const server = net.createServer();
  await new Promise((resolve, reject) => server.listen(path.join(setup.dir, 'socket.pid'), resolve).once('error', reject));
  t.after(() => server.close());
  for (const [file, what] of [
    ['a-dir.pid', 'a directory stands there, not a PID file'],
    ['link.pid', 'a symlink stands there, not a PID file \\(pidguard never follows one there\\)'],
    ['socket.pid', 'a socket stands there, not a PID file'],
    ['fifo.pid', 'a FIFO stands there, not a PID file'],
    ['/dev/null', 'a device stands there, not a PID file'],
    ['target/app.pid', `${setup.dir}/target is not a directory`],
  ]) {
    const seen = statusOf(setup, file);
    assert.equal(seen.status, 4, `${file}: ${seen.stderr}`);
    assert.equal(seen.lsb, 4, file);
    assert.equal(seen.stdout, '', file);
    assert.match(seen.stderr, new RegExp(`^pidguard: cannot tell whether \\S*${path.basename(file)} is locked: ${what}\n$`), file);
  }
  const json = JSON.parse(sh(setup, 'pidguard status --json a-dir.pid').stdout);
  assert.equal(json.state, 'unknown');
  assert.equal(json.locked, false, "inspect()'s report, kept");
  assert.match(json.why, /a directory stands there/);
});

test('cannot tell (4): permission denied, with the code and the path; --json says why', asRoot, (t) => {
  const setup = cliSetup(t);
  const hidden = path.join(setup.dir, 'root-only');
  fs.mkdirSync(hidden, { mode: 0o700 });
  fs.chmodSync(setup.dir, 0o755);
  fs.writeFileSync(path.join(hidden, 'app.pid'), '1\n');
  const asNobody = (args) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(setup.dir, 'bin', 'pidguard'), ...args]);
  const plain = asNobody(['status', `${hidden}/app.pid`]);
  assert.equal(plain.status, 4, plain.stderr);
  assert.match(plain.stderr, new RegExp(`^pidguard: cannot tell whether ${hidden}/app.pid is locked: EACCES: permission denied, \\w+ '${hidden}/app.pid'\n$`));
  assert.equal(asNobody(['status', '--lsb', `${hidden}/app.pid`]).status, 4);
  const json = asNobody(['status', '--json', `${hidden}/app.pid`]);
  assert.equal(json.status, 4);
  assert.deepEqual(JSON.parse(json.stdout), { path: `${hidden}/app.pid`, state: 'unknown', why: plain.stderr.slice('pidguard: '.length).trim() });
});

test('running: the PID and 0 (LSB 0); --json keeps the report and says how the holder was identified', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo $$; exec sleep 60'`);
  const commandPid = Number(await service.nextLine());
  await fileHolds(setup.pidfile, `${commandPid}\n`);
  assert.deepEqual(statusOf(setup, 'app.pid'), { status: 0, lsb: 0, stdout: `${commandPid}\n`, stderr: '' });
  const json = JSON.parse(sh(setup, 'pidguard status --json --lsb app.pid').stdout);
  assert.deepEqual([json.locked, json.pid, json.holderProof, json.state, json.why], [true, commandPid, 'fd', 'running', null]);
});

test('LSB statuses as start-stop-daemon --status gives them, side by side', { ...linux, skip: linux.skip || (!hasStartStopDaemon && "no start-stop-daemon (Debian's dpkg; .ci/run checks for it)") }, async (t) => {
  const setup = cliSetup(t);
  const both = (file) => [sh(setup, `start-stop-daemon --status --pidfile ${file}`).status, sh(setup, `pidguard status --lsb ${file}`).status];
  assert.deepEqual(both('app.pid'), [3, 3], 'no file');
  assert.deepEqual(both('no-such-dir/app.pid'), [3, 3], 'no directory');
  fs.mkdirSync(path.join(setup.dir, 'a-dir.pid'));
  assert.deepEqual(both('a-dir.pid'), [4, 4], 'a directory');
  fs.writeFileSync(setup.pidfile, '99999999\n');
  assert.deepEqual(both('app.pid'), [1, 1], 'a dead PID in a file nobody holds');
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo $$; exec sleep 60'`);
  const commandPid = await service.nextLine();
  await fileHolds(setup.pidfile, `${commandPid}\n`);
  assert.deepEqual(both('app.pid'), [0, 0], 'running');
});

test("in a container's PID namespace, a lock /proc/locks leaves out is running (0), not 'not running'", asRoot, async (t) => {
  const setup = cliSetup(t);
  // --pid self, and the wrapper SIGKILLed: the file names a dead PID, and only the command, which
  // inherited the lock, holds it. /proc/locks there lists no lock whose taker has ended.
  const steps = `
    pidguard run --pid self app.pid -- bash -c 'echo $$ > command.pid; exec sleep 60' &
    wrapper=$!
    for i in $(seq 1500); do [ -s command.pid ] && [ "$(cat app.pid 2>/dev/null)" = $wrapper ] && break; sleep 0.01; done
    kill -KILL $wrapper
    wait $wrapper
    echo "listed $(grep -c FLOCK /proc/locks)"
    echo "status $(pidguard status app.pid 2>status.err) $?"
    echo "lsb $(pidguard status --lsb app.pid 2>/dev/null) $?"
    pidguard status --json app.pid
    kill -KILL $(cat command.pid)`;
  const ns = startScript(t, setup, `exec unshare --pid --fork --mount-proc bash -c '${steps.replaceAll("'", "'\\''")}'`);
  assert.equal(await ns.nextLine(), 'listed 0', '/proc/locks lists no flock in the namespace');
  assert.equal(await ns.nextLine(), 'status  0', 'running, and no PID named');
  assert.equal(await ns.nextLine(), 'lsb  0');
  const json = JSON.parse(await ns.nextLine());
  assert.deepEqual([json.locked, json.checkedBy, json.pid, json.state], [true, 'probe', null, 'running']);
  assert.match(fs.readFileSync(path.join(setup.dir, 'status.err'), 'utf8'), /app\.pid is locked, but \/proc\/locks does not list it .*; its holder cannot be named\n$/);
  assert.deepEqual(await ns.exited, { code: 0, signal: null });
});

test('without /proc (Linux): the lock still tells running from not running, but no holder is named, since none can be proven', asRoot, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo $$; exec sleep 60'`);
  const commandPid = await service.nextLine();
  await fileHolds(setup.pidfile, `${commandPid}\n`);
  fs.writeFileSync(path.join(setup.dir, 'stale.pid'), '99999999\n');
  const noProc = (script) => sh(setup, `unshare --mount bash -c 'umount -l /proc && ${script}'`);
  const held = noProc('pidguard status app.pid');
  assert.equal(held.status, 0, held.stderr);
  assert.equal(held.stdout, '', 'no PID printed that nothing proves');
  assert.match(held.stderr, new RegExp(`the file names PID ${commandPid}, which this process cannot check`));
  assert.equal(noProc('pidguard status stale.pid').status, 1);
  const stop = noProc('pidguard stop app.pid');
  assert.equal(stop.status, 4, 'cannot tell whom to signal');
  assert.match(stop.stderr, /cannot tell whom to signal/);
  assert.equal(fs.readFileSync(setup.pidfile, 'utf8'), `${commandPid}\n`, 'nobody was signalled');
});
