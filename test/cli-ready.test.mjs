// Readiness from bash: `pidguard wait --held` returns once the lock is held and the file names a
// live PID that holds it (or is the command of the process that does), printing that PID; and
// NOTIFY_SOCKET reaches the command untouched, for a service that says when it is ready.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { cliSetup, fileHolds, sh, startScript } from './cli-helpers.mjs';
import { startSleeper } from './helpers.mjs';

const linux = { skip: process.platform !== 'linux' && 'needs bash and /proc', timeout: 60_000 };

test('wait --held, started before the service and its directory: returns the command\'s PID once it is held', linux, async (t) => {
  const setup = cliSetup(t);
  const early = sh(setup, 'pidguard wait --held -t 0.2 run/app.pid');
  assert.equal(early.status, 1);
  assert.match(early.stderr, /run\/app\.pid is not held by a process it names after 0\.2 s/);
  // The waiter is watching (an inotify descriptor of its own) before the service starts.
  const script = startScript(t, setup, `
    pidguard wait --held -t 30 run/app.pid > waited &
    waiter=$!
    for i in $(seq 1500); do ls -l /proc/$waiter/fd 2>/dev/null | grep -q inotify && break; sleep 0.01; done
    echo watching
    mkdir run
    pidguard run run/app.pid -- bash -c 'echo "command $$"; exec sleep 60' &
    wrapper=$!
    wait $waiter
    echo "waited $? $(cat waited) $wrapper"`);
  assert.equal(await script.nextLine(), 'watching');
  const commandPid = (await script.nextLine()).split(' ')[1];
  const [, status, printed, wrapperPid] = (await script.nextLine()).split(' ');
  assert.equal(status, '0');
  // The command's PID; or, for the instant between pidguard's lock and its command's start,
  // pidguard's own, which the file names then, which holds the lock and passes signals on.
  assert.ok(printed === commandPid || printed === wrapperPid, `printed ${printed}: the command is ${commandPid}, pidguard ${wrapperPid}`);
});

test('wait --held with --no-inherit (the file names the command, the wrapper holds the lock) and with --pid self', linux, async (t) => {
  const setup = cliSetup(t);
  for (const [option, recorded] of [['--no-inherit', 'command'], ['--pid self', 'wrapper']]) {
    const service = startScript(t, setup, `exec pidguard run ${option} app.pid -- bash -c 'echo $$; exec sleep 60'`);
    const commandPid = Number(await service.nextLine());
    const named = recorded === 'command' ? commandPid : service.child.pid;
    await fileHolds(setup.pidfile, `${named}\n`);
    const ready = sh(setup, 'pidguard wait --held -t 10 app.pid');
    assert.deepEqual([ready.status, ready.stdout], [0, `${named}\n`], `${option}: ${ready.stderr}`);
    process.kill(commandPid, 'SIGKILL');
    await service.exited;
  }
});

test('wait --held is not fooled: a holder that writes no PID, or a file naming a live process that does not hold the lock', linux, async (t) => {
  const setup = cliSetup(t);
  sh(setup, 'mkfifo release.fifo');
  const flock = startScript(t, setup, 'exec flock app.pid -c "echo held; read -r _ < release.fifo"');
  assert.equal(await flock.nextLine(), 'held');
  assert.equal(sh(setup, 'pidguard wait --held -t 0.3 app.pid').status, 1, 'no PID in the file');
  const sleeper = await startSleeper(t);
  fs.writeFileSync(setup.pidfile, `${sleeper.pid}\n`);
  const fooled = sh(setup, 'pidguard wait --held -t 0.3 app.pid');
  assert.equal(fooled.status, 1, `PID ${sleeper.pid} runs, but holds nothing: ${fooled.stdout}`);
  sh(setup, 'echo go > release.fifo');
  await flock.exited;
  fs.mkdirSync(path.join(setup.dir, 'a-dir.pid'));
  assert.equal(sh(setup, 'pidguard wait --held a-dir.pid').status, 4, 'a directory: cannot tell, at once');
});

test('NOTIFY_SOCKET reaches the command untouched: a service can tell a supervisor it is ready', linux, async (t) => {
  const setup = cliSetup(t);
  const socket = path.join(setup.dir, 'notify.sock');
  // A supervisor's notification socket (as systemd's), a datagram socket python3 listens on.
  const listener = spawn('python3', ['-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('bound', flush=True)
print(s.recv(100).decode(), flush=True)`, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => listener.kill('SIGKILL'));
  const lines = readline.createInterface({ input: listener.stdout })[Symbol.asyncIterator]();
  const next = async () => (await lines.next()).value;
  assert.equal(await next(), 'bound');
  const result = sh(setup, `NOTIFY_SOCKET=${socket} pidguard run app.pid -- python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])'`);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(await next(), 'READY=1');
});
