// The pidguard command's parsing and wording, without processes: what each command line means.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import args from '../dist/cli/args.js';
import messages from '../dist/cli/messages.js';
import commandLine from '../dist/command-line.js';

const { parseCommandLine, parseSeconds, parseSignal, UsageError, DEFAULT_STOP_TIMEOUT_MS } = args;
const { conflictMessage } = messages;
const { formatCommandLine } = commandLine;

test('run: the defaults, and everything after -- belongs to the command', () => {
  assert.deepEqual(parseCommandLine(['run', 'app.pid', '--', 'node', 'server.js', '--port', '80', '--']), {
    name: 'run', pidfile: 'app.pid', command: ['node', 'server.js', '--port', '80', '--'],
    waitMs: 0, conflictExitCode: 1, recordSelf: false, inherit: true,
  });
  assert.deepEqual(parseCommandLine(['run', '-w', '2.5', '-E', '75', '--pid', 'self', '--no-inherit', 'app.pid', 'true']), {
    name: 'run', pidfile: 'app.pid', command: ['true'], waitMs: 2500, conflictExitCode: 75, recordSelf: true, inherit: false,
  });
  assert.equal(parseCommandLine(['run', '--wait=forever', 'a', '--', 'x']).waitMs, Infinity);
  assert.deepEqual(parseCommandLine(['run', '--help']), { name: 'help' });
});

test('status, stop and wait take one PID file', () => {
  assert.deepEqual(parseCommandLine(['status', '--json', 'a.pid']), { name: 'status', pidfile: 'a.pid', json: true });
  assert.deepEqual(parseCommandLine(['stop', 'a.pid']), { name: 'stop', pidfile: 'a.pid', signal: 'SIGTERM', timeoutMs: DEFAULT_STOP_TIMEOUT_MS });
  assert.deepEqual(parseCommandLine(['stop', '-s', 'hup', '-t', '0', 'a.pid']), { name: 'stop', pidfile: 'a.pid', signal: 'SIGHUP', timeoutMs: 0 });
  assert.deepEqual(parseCommandLine(['wait', 'a.pid']), { name: 'wait', pidfile: 'a.pid', timeoutMs: Infinity });
  assert.deepEqual(parseCommandLine(['wait', '-t', '.5', 'a.pid']), { name: 'wait', pidfile: 'a.pid', timeoutMs: 500 });
});

test('mistakes are UsageErrors that say what is wrong', () => {
  const mistakes = [
    [[], /missing a command/],
    [['start', 'a.pid'], /unknown command 'start'/],
    [['run'], /missing the PID file/],
    [['run', 'a.pid', '--'], /missing the command/],
    [['run', 'a.pid', 'ls', '-l'], /put '--' before the command/],
    [['run', '-E', '-1', 'a.pid', '--', 'x'], /-E|Option/],
    [['status'], /missing the PID file/],
    [['wait', '-t', 'later', 'a.pid'], /takes a number of seconds or 'forever'/],
    [['stop', '--bogus', 'a.pid'], /stop: Unknown option '--bogus'/],
  ];
  for (const [argv, message] of mistakes) {
    assert.throws(() => parseCommandLine(argv), (error) => error instanceof UsageError && message.test(error.message), argv.join(' '));
  }
});

test('seconds and signals as operators write them', () => {
  assert.equal(parseSeconds('0', '-t', false), 0);
  assert.equal(parseSeconds('1.25', '-t', false), 1250);
  for (const bad of ['', '-1', '1e3', '0x10', ' 1', 'forever', 'NaN']) {
    assert.throws(() => parseSeconds(bad, '-t', false), UsageError, bad);
  }
  for (const name of ['TERM', 'SIGTERM', 'term', '15']) assert.equal(parseSignal(name), 'SIGTERM');
  assert.equal(parseSignal('9'), 'SIGKILL');
  for (const bad of ['', 'SIGNOPE', '999', '-9']) assert.throws(() => parseSignal(bad), UsageError, bad);
});

test('a refusal names the file, the holder, what it runs, and how to stop it', () => {
  assert.equal(
    conflictMessage('/run/app.pid', 4242, "node server.js --name 'my app'", 'linux'),
    "pidguard: /run/app.pid is locked: already running as PID 4242: node server.js --name 'my app'\n" +
      'pidguard: to stop it: kill 4242  (or: pidguard stop /run/app.pid)\n',
  );
  assert.match(conflictMessage('C:\\run\\app.pid', 7, null, 'win32'), /as PID 7\npidguard: to stop it: taskkill \/PID 7 /);
  assert.match(conflictMessage('/run/app.pid', null, null, 'linux'), /has not recorded its PID/);
});

test('command lines are shown as a shell would take them back', () => {
  assert.equal(formatCommandLine(['node', 'server.js', '--port=80']), 'node server.js --port=80');
  assert.equal(formatCommandLine(['sh', '-c', "echo 'hi' $HOME"]), `sh -c 'echo '\\''hi'\\'' $HOME'`);
  assert.equal(formatCommandLine(['']), "''");
});
