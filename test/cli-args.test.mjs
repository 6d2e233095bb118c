// The pidguard command's parsing and wording, without processes: what each command line means.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import args from '../dist/cli/args.js';
import messages from '../dist/cli/messages.js';
import commandLine from '../dist/process/command-line.js';

const { parseCommandLine, parseSeconds, parseSignal, UsageError, DEFAULT_STOP_TIMEOUT_MS, DEFAULT_KILL_AFTER_MS } = args;
const { conflictMessage } = messages;
const { formatCommandLine } = commandLine;

const RUN_DEFAULTS = {
  name: 'run', shell: false, waitMs: 0, conflictExitCode: 1, recordSelf: false, inherit: true, shared: false, killAfterMs: DEFAULT_KILL_AFTER_MS,
};

test('run: the defaults, and everything after -- belongs to the command', () => {
  assert.deepEqual(parseCommandLine(['run', 'app.pid', '--', 'node', 'server.js', '--port', '80', '--']), {
    ...RUN_DEFAULTS, pidfile: 'app.pid', command: ['node', 'server.js', '--port', '80', '--'],
  });
  assert.deepEqual(parseCommandLine(['run', '-w', '2.5', '-E', '75', '--pid', 'self', '--no-inherit', '--kill-after', '1.5', 'app.pid', 'true']), {
    ...RUN_DEFAULTS, pidfile: 'app.pid', command: ['true'], waitMs: 2500, conflictExitCode: 75, recordSelf: true, inherit: false, killAfterMs: 1500,
  });
  assert.equal(parseCommandLine(['run', '--wait=forever', 'a', '--', 'x']).waitMs, Infinity);
  assert.deepEqual(parseCommandLine(['run', '--help']), { name: 'help' });
});

test("run: options end at the PID file, as flock(1)'s: everything after it is the command's", () => {
  // The three command lines of issue 15, which pidguard used to take for itself.
  assert.deepEqual(parseCommandLine(['run', '/tmp/z.pid', 'echo', '-w', '5', 'done']).command, ['echo', '-w', '5', 'done']);
  assert.deepEqual(parseCommandLine(['run', '/tmp/z.pid', 'echo', '-h']).command, ['echo', '-h']);
  assert.deepEqual(parseCommandLine(['run', '/tmp/z.pid', 'ls', '-d', '/tmp']), { ...RUN_DEFAULTS, pidfile: '/tmp/z.pid', command: ['ls', '-d', '/tmp'] });
  // `--` before the PID file ends the options too; one right after it is dropped; a second is the command's.
  assert.deepEqual(parseCommandLine(['run', '--', '-odd.pid', 'x']).pidfile, '-odd.pid');
  assert.deepEqual(parseCommandLine(['run', '-w', '1', '--', 'a.pid', '--', '--', 'x']).command, ['--', 'x']);
  // getopt's forms: grouped flags, attached values, --name=value, and a value that looks like an option.
  assert.deepEqual(parseCommandLine(['run', '-xow3', 'a.pid', 'x']), { ...RUN_DEFAULTS, pidfile: 'a.pid', command: ['x'], inherit: false, waitMs: 3000 });
  assert.deepEqual(parseCommandLine(['run', '-E', '0', '--conflict-exit-code=9', 'a.pid', 'x']).conflictExitCode, 9);
});

test("run: flock(1)'s -c, -n, -s, -x, -e, -o and their long names", () => {
  assert.deepEqual(parseCommandLine(['run', '-w', '60', '/tmp/sync.pid', '-c', 'sync-reports && notify']), {
    ...RUN_DEFAULTS, pidfile: '/tmp/sync.pid', command: ['sync-reports && notify'], shell: true, waitMs: 60_000,
  });
  assert.deepEqual(parseCommandLine(['run', 'a.pid', '--command', 'a; b']).command, ['a; b']);
  // -n is the default, and wins over -w in either order, as in flock(1).
  assert.equal(parseCommandLine(['run', '-n', '-w', '5', 'a', 'x']).waitMs, 0);
  assert.equal(parseCommandLine(['run', '--timeout', '5', '--nb', 'a', 'x']).waitMs, 0);
  assert.equal(parseCommandLine(['run', '--nonblock', 'a', 'x']).waitMs, 0);
  // The last of -s and -x (-e, --exclusive) counts.
  assert.equal(parseCommandLine(['run', '-s', 'a', 'x']).shared, true);
  assert.equal(parseCommandLine(['run', '--shared', '-x', 'a', 'x']).shared, false);
  assert.equal(parseCommandLine(['run', '-e', '--shared', 'a', 'x']).shared, true);
  assert.equal(parseCommandLine(['run', '--close', 'a', 'x']).inherit, false);
  // After the PID file they are the command's: a command named -n is run, not the option.
  assert.deepEqual(parseCommandLine(['run', 'a', '-n', '-c', 'x']).command, ['-n', '-c', 'x']);
});

test('status, stop and wait take one PID file, with their options anywhere', () => {
  assert.deepEqual(parseCommandLine(['status', '--json', 'a.pid']), { name: 'status', pidfile: 'a.pid', json: true, lsb: false });
  assert.deepEqual(parseCommandLine(['status', 'a.pid', '--lsb']), { name: 'status', pidfile: 'a.pid', json: false, lsb: true });
  const term = { kind: 'signal', signal: 'SIGTERM' };
  const kill = { kind: 'signal', signal: 'SIGKILL' };
  assert.deepEqual(parseCommandLine(['stop', 'a.pid']), {
    name: 'stop', pidfile: 'a.pid', schedule: [term, { kind: 'wait', ms: DEFAULT_STOP_TIMEOUT_MS }], okNoDo: false,
  });
  assert.deepEqual(parseCommandLine(['stop', '-s', 'hup', '-t', '0', 'a.pid']).schedule, [{ kind: 'signal', signal: 'SIGHUP' }, { kind: 'wait', ms: 0 }]);
  assert.deepEqual(parseCommandLine(['stop', 'a.pid', '--retry', 'TERM/30/KILL/5', '--oknodo']), {
    name: 'stop', pidfile: 'a.pid', schedule: [term, { kind: 'wait', ms: 30_000 }, kill, { kind: 'wait', ms: 5000 }], okNoDo: true,
  });
  assert.deepEqual(parseCommandLine(['wait', 'a.pid']), { name: 'wait', pidfile: 'a.pid', timeoutMs: Infinity, held: false });
  assert.deepEqual(parseCommandLine(['wait', '-t', '.5', '--held', 'a.pid']), { name: 'wait', pidfile: 'a.pid', timeoutMs: 500, held: true });
});

test("stop --retry: start-stop-daemon's schedules", () => {
  const schedule = (...args) => parseCommandLine(['stop', ...args, 'a.pid']).schedule;
  const signal = (name) => ({ kind: 'signal', signal: name });
  const wait = (ms) => ({ kind: 'wait', ms });
  // One number: <signal>/N/KILL/N, with -s's signal.
  assert.deepEqual(schedule('--retry', '30'), [signal('SIGTERM'), wait(30_000), signal('SIGKILL'), wait(30_000)]);
  assert.deepEqual(schedule('-s', 'INT', '-R', '2.5'), [signal('SIGINT'), wait(2500), signal('SIGKILL'), wait(2500)]);
  // Signals by name, -name or -number; a bare number is a timeout; forever repeats the rest.
  assert.deepEqual(schedule('-R', '-HUP/1/-9/2'), [signal('SIGHUP'), wait(1000), signal('SIGKILL'), wait(2000)]);
  assert.deepEqual(schedule('--retry=TERM/5/forever/KILL/1'), [signal('SIGTERM'), wait(5000), signal('SIGKILL'), wait(1000), { kind: 'repeat', to: 2 }]);
  for (const [args, message] of [
    [['-R', 'TERM'], /at least two items/],
    [['-R', 'TERM/5s'], /'5s' in 'TERM\/5s' is neither a signal/],
    [['-R', 'NOPE/5'], /-R, --retry: unknown signal 'NOPE'/],
    [['-R', 'TERM/forever/5/forever'], /'forever' appears more than once/],
    [['-R', 'TERM/5/forever/KILL'], /must wait a number of seconds/],
    [['-R', '5', '-t', '5'], /-t, --timeout and -R, --retry cannot be used together/],
    [['-s', 'HUP', '-R', 'TERM/5'], /-s, --signal cannot be used with a --retry schedule/],
  ]) {
    assert.throws(() => schedule(...args), (error) => error instanceof UsageError && message.test(error.message), args.join(' '));
  }
});

test('mistakes are UsageErrors that say what is wrong, in one line', () => {
  const mistakes = [
    [[], /missing a command/],
    [['start', 'a.pid'], /unknown command 'start'/],
    [['run'], /missing the PID file/],
    [['run', 'a.pid'], /missing the command/],
    [['run', 'a.pid', '--'], /missing the command/],
    [['run', '-w', '-1', 'a.pid', 'x'], /^-w, --wait takes a number of seconds or 'forever', got '-1'$/],
    [['run', '-w'], /^run: option '-w' needs a value$/],
    [['run', '--wait'], /^run: option '--wait' needs a value$/],
    [['run', '-E', '-1', 'a.pid', '--', 'x'], /from 0 to 255, got '-1'/],
    [['run', '-l', 'a.pid', 'ls'], /^run: unknown option '-l'$/],
    [['run', '--shared=yes', 'a.pid', 'x'], /^run: option '--shared' takes no value$/],
    [['run', '-s', '--pid', 'self', 'a.pid', 'x'], /--pid self cannot be used with it/],
    [['run', 'a.pid', '-c'], /-c takes exactly one string, the command for the shell \(0 given\)/],
    [['run', 'a.pid', '--command', 'a', 'b'], /--command takes exactly one string, the command for the shell \(2 given\)/],
    [['run', 'a.pid', '-c', ''], /-c was given an empty command/],
    [['run', '--kill-after', 'forever', 'a.pid', 'x'], /--kill-after takes a number of seconds, got 'forever'/],
    [['status'], /missing the PID file/],
    [['wait', '-t', 'later', 'a.pid'], /takes a number of seconds or 'forever'/],
    [['stop', '--bogus', 'a.pid'], /^stop: unknown option '--bogus'$/],
  ];
  for (const [argv, message] of mistakes) {
    assert.throws(() => parseCommandLine(argv), (error) => error instanceof UsageError && message.test(error.message) && !error.message.includes('\n'), argv.join(' '));
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
