// pidguard/postgres without a server: names and keys, the partition bound's arithmetic, options,
// who a holder is, and the words and codes of its errors. Pure functions only.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { test } from 'node:test';
import fleetArgs from '../dist/cli/fleet-args.js';
import admin from '../dist/postgres/admin.js';
import bounds from '../dist/postgres/bounds.js';
import connection from '../dist/postgres/connection.js';
import errors from '../dist/postgres/errors.js';
import holder from '../dist/postgres/holder.js';
import names from '../dist/postgres/names.js';
import open from '../dist/postgres/open.js';
import options from '../dist/postgres/options.js';
import rootErrors from '../dist/errors.js';
import { checkFleetJournal } from '../torture/fleet-storm.mjs';

const { keepalivesFor, lostWithinMs, freedAfterMs, keepsInequality, settleHealthCheck, DEFAULT_HEALTH_CHECK } = bounds;
const { serverError, sqlStateOf } = errors;
const { applicationName, holderOf, holderOfAttempt } = holder;
const { checkName, lockKey, lockTag, targetOf, MAX_NAME_BYTES } = names;
const { settleConnect, settleFleetOptions, settleConnection, checkSchema } = options;
const { LockedError, remoteLockedMessage } = rootErrors;

test('names: non-empty, at most 255 bytes of UTF-8, no control characters; each refusal is ERR_INVALID_ARG_VALUE', () => {
  assert.equal(checkName('nightly'), 'nightly');
  assert.equal(checkName('é'.repeat(127)), 'é'.repeat(127)); // 254 bytes
  for (const bad of ['', 'é'.repeat(128), 'x'.repeat(MAX_NAME_BYTES + 1), 'a\0b', 'a\nb', undefined, null, 42, {}]) {
    assert.throws(() => checkName(bad), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(bad));
  }
  assert.equal(targetOf('nightly'), 'postgres:nightly');
});

test('names: a lone surrogate, a C1 control, a bidi control or a line separator is refused, so that distinct names never share a key and every name prints as itself', () => {
  // UTF-8 has no lone surrogates: Buffer writes each as U+FFFD, so "a\ud800", "a\udfff" and
  // "a\ufffd" would share one key, one token row and one lock.
  for (const bad of ['a\ud800', 'a\udfff', '\udc00b', 'a\ud800\ud800']) {
    assert.throws(() => checkName(bad), { code: 'ERR_INVALID_ARG_VALUE', message: /^the lock name must be well-formed Unicode \(it has a lone surrogate, U\+D[89A-F][0-9A-F]{2}\)/ }, JSON.stringify(bad));
  }
  // What the README promises, "no control characters", for C1 as for C0; and no character that
  // reorders or breaks the line it is printed on (a name shows in status and in every error).
  for (const [bad, code] of [['job\u0085', '0085'], ['job\u009b31m', '009B'], ['job\u0080', '0080'], ['job\u202e', '202E'], ['\u2066job', '2066'],
    ['job\u200f', '200F'], ['job\u061c', '061C'], ['a\u2028b', '2028'], ['a\u2029b', '2029']]) {
    const error = (() => { try { checkName(bad); return null; } catch (e) { return e; } })();
    assert.equal(error?.code, 'ERR_INVALID_ARG_VALUE', JSON.stringify(bad));
    assert.match(error.message, new RegExp(`^the lock name must not contain control characters \\(U\\+${code}\\): `));
    // The message shows the character escaped, never raw.
    assert.doesNotMatch(error.message, /[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u, JSON.stringify(bad));
  }
  // Still names: U+FFFD itself, a surrogate pair, joiners inside an emoji, letters of any script.
  for (const good of ['a\ufffd', 'a\u{1f600}', '\u{1f468}\u200d\u{1f469}', 'nächtlich', 'ночной', '夜間', 'a\u00a0b']) assert.equal(checkName(good), good);
  assert.notEqual(lockKey('a\ufffd'), lockKey('a\u{1f600}'));
});

test('keys: one fixed 64-bit key per name, the same in every process and version, and where pg_locks shows it', () => {
  // Pinned: holders running different versions of pidguard (or other languages) must agree on
  // the key: the first 8 bytes of SHA-256("pidguard:" + name), big-endian, signed.
  assert.equal(lockKey('nightly'), 5307537051619113830n);
  assert.equal(lockKey('nightly'), createHash('sha256').update('pidguard:nightly').digest().readBigInt64BE(0));
  const keys = new Set(Array.from({ length: 5000 }, (_, i) => lockKey(`job-${i}`)));
  assert.equal(keys.size, 5000);
  assert.deepEqual(lockTag(-1n), { classid: 0xffffffff, objid: 0xffffffff });
  assert.deepEqual(lockTag(0x0000000100000002n), { classid: 1, objid: 2 });
});

test('the partition bound: for any health check, the keepalives the session sets free the lock no sooner than lost + grace', () => {
  assert.deepEqual(DEFAULT_HEALTH_CHECK, { intervalMs: 1000, timeoutMs: 1500, graceMs: 1000 });
  assert.equal(lostWithinMs(DEFAULT_HEALTH_CHECK), 3000);
  assert.deepEqual(keepalivesFor(DEFAULT_HEALTH_CHECK), { idle: 2, interval: 1, count: 2, userTimeoutMs: 4000 });
  assert.equal(freedAfterMs(keepalivesFor(DEFAULT_HEALTH_CHECK)), 4000);
  let seed = 17;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return 1 + (seed % n);
  };
  for (let i = 0; i < 10_000; i += 1) {
    const check = { intervalMs: random(120_000) / random(10), timeoutMs: random(60_000) / random(10), graceMs: random(30_000) / random(10) };
    const keepalives = keepalivesFor(check);
    assert.ok(keepsInequality(check, keepalives), JSON.stringify({ check, keepalives }));
    assert.ok(lostWithinMs(check) + check.graceMs <= freedAfterMs(keepalives));
    assert.ok(keepalives.idle >= 1 && Number.isInteger(keepalives.idle));
  }
  // Keepalives the server did not take break it, and the session refuses them (see postgres-lock).
  assert.equal(keepsInequality(DEFAULT_HEALTH_CHECK, { idle: 1, interval: 1, count: 1, userTimeoutMs: 0 }), false);
  assert.equal(keepsInequality({ ...DEFAULT_HEALTH_CHECK, graceMs: 0 }, keepalivesFor(DEFAULT_HEALTH_CHECK)), false);
});

test('health-check options: positive milliseconds, and not more than the server can set', () => {
  assert.deepEqual(settleHealthCheck({ healthCheckIntervalMs: 200, healthCheckTimeoutMs: 300, graceMs: 500 }), { intervalMs: 200, timeoutMs: 300, graceMs: 500 });
  for (const bad of [0, -1, Number.NaN, Infinity, '1000']) {
    assert.throws(() => settleHealthCheck({ graceMs: bad }), { code: 'ERR_INVALID_ARG_VALUE', message: /graceMs/ });
  }
  assert.throws(() => settleHealthCheck({ healthCheckIntervalMs: 2 ** 31 }), /tcp_user_timeout/);
});

test('options: a misspelled one is an error; connection from the option, PIDGUARD_POSTGRES_URL, or PG* (node-postgres)', () => {
  assert.throws(() => settleConnect({ conection: 'x' }, undefined), { code: 'ERR_INVALID_ARG_VALUE', message: /conection is not an option of connect/ });
  assert.throws(() => settleFleetOptions({ wiat: true }, undefined), /wiat is not an option of acquire/);
  assert.throws(() => settleFleetOptions({ wait: -1 }, undefined), /options.wait/);
  assert.throws(() => settleFleetOptions({ signal: {} }, undefined), /AbortSignal/);
  assert.throws(() => settleFleetOptions({ logger: {} }, undefined), /logger/);
  assert.deepEqual(settleConnection(undefined, 'postgres://h/db'), { connectionString: 'postgres://h/db' });
  assert.deepEqual(settleConnection(undefined, undefined), {});
  assert.deepEqual(settleConnection({ host: 'h', port: 1 }, 'postgres://ignored'), { host: 'h', port: 1 });
  assert.throws(() => settleConnection('', undefined), /must not be empty/);
  assert.throws(() => settleConnection(42, undefined), /connection string or a node-postgres client config/);
  assert.equal(settleFleetOptions({ wait: true }, undefined).acquire.waitMs, Infinity);
  assert.equal(checkSchema(undefined), 'public');
  assert.equal(checkSchema('ops_locks'), 'ops_locks');
  for (const bad of ['', 'a b', 'x"; drop table t; --', '1abc', 'a'.repeat(64)]) assert.throws(() => checkSchema(bad), /plain identifier/);
});

test("application_name: pidguard <pid>@<host>, cut to the server's 63 bytes", () => {
  assert.equal(applicationName(4242, 'web-3'), 'pidguard 4242@web-3');
  const long = applicationName(4242, 'h'.repeat(100));
  assert.equal(Buffer.byteLength(long), 63);
  assert.equal(Buffer.byteLength(applicationName(1, 'é'.repeat(40))) <= 63, true);
});

test('command sessions: their key apart from the lock\'s, their application_name naming the lock\'s session and the command', () => {
  assert.notEqual(names.commandKey('nightly'), lockKey('nightly'));
  assert.equal(names.commandKey('nightly'), createHash('sha256').update('pidguard-command:nightly').digest().readBigInt64BE(0));
  assert.equal(holder.commandApplicationName(4194304, 123, 'web-3'), 'pidguard-run 4194304 123@web-3');
  assert.equal(Buffer.byteLength(holder.commandApplicationName(4194304, 4194304, 'h'.repeat(80))), 63);
  assert.deepEqual(holder.commandHolderOf(77, 'pidguard-run 12 345@web-3'), { backend: 77, holderBackend: 12, pid: 345, host: 'web-3' });
  // A session ending (gone from pg_stat_activity) or not pidguard's: nothing known.
  assert.deepEqual(holder.commandHolderOf(77, null), { backend: 77, holderBackend: null, pid: null, host: null });
  assert.deepEqual(holder.commandHolderOf(77, 'pidguard 345@web-3'), { backend: 77, holderBackend: null, pid: null, host: null });
  // stop waits for the command sessions that ran under the stopped holder, and for any it cannot tell.
  assert.equal(admin.ranUnder({ backend: 77, holderBackend: 12, pid: 1, host: 'h' }, 12), true);
  assert.equal(admin.ranUnder({ backend: 77, holderBackend: 13, pid: 1, host: 'h' }, 12), false);
  assert.equal(admin.ranUnder({ backend: 77, holderBackend: null, pid: null, host: null }, 12), true);
});

test("the holder: from the table when its row is the holder's, else from application_name, else unknown", () => {
  const since = new Date(0);
  const base = { backend: 77, token: '9', host: 'web-3', pid: 4242, since, recorded: 77, last_token: '9', application_name: 'pidguard 4242@web-3' };
  assert.deepEqual(holderOf(base), { backend: 77, pid: 4242, host: 'web-3', since, token: 9n });
  // Between taking the lock and committing its row: the row is the previous holder's.
  assert.deepEqual(holderOf({ ...base, recorded: 12, token: null, host: 'old', pid: 1 }), { backend: 77, pid: 4242, host: 'web-3', since: null, token: null });
  assert.deepEqual(holderOf({ ...base, recorded: null, token: null, application_name: 'psql' }), { backend: 77, pid: null, host: null, since: null, token: null });
  assert.deepEqual(holderOf({ ...base, backend: null }), { backend: null, pid: null, host: null, since: null, token: null });
  assert.deepEqual(holderOf(undefined), { backend: null, pid: null, host: null, since: null, token: null });
  // A failed attempt's holder comes as JSON, its time as text; none seen is null (freed meanwhile).
  assert.deepEqual(holderOfAttempt({ ...base, since: '1970-01-01T00:00:00+00:00' }), { backend: 77, pid: 4242, host: 'web-3', since, token: 9n });
  assert.equal(holderOfAttempt(null), null);
  // A holder that cannot be named (its session ending: gone from pg_stat_activity, its lock not yet
  // released) is no holder to report: the attempt is made again.
  assert.equal(holderOfAttempt({ ...base, since: null, recorded: 12, token: null, application_name: null }), null);
});

test('LockedError: the optional host, and a message that says where it runs and how to stop it', () => {
  const fileError = new LockedError('/run/app.pid', 42);
  assert.equal(fileError.host, null);
  assert.match(fileError.message, /already running as PID 42\. To stop it: kill 42/);
  const remote = new LockedError('postgres:nightly', 4242, { host: 'web-3' });
  assert.equal(remote.code, 'ELOCKED');
  assert.equal(remote.host, 'web-3');
  assert.equal(remote.message, 'postgres:nightly is locked: already running as PID 4242 on web-3. To stop it: pidguard stop postgres:nightly (or on web-3: kill 4242)');
  assert.match(remoteLockedMessage('postgres:x', 1, 'h', { pid: 1, host: 'h' }), /already locked by this process/);
  // Told by the caller (pidguard/postgres compares server sessions): the same PID and host is not enough.
  assert.match(remoteLockedMessage('postgres:x', 1, 'h', false), /^postgres:x is locked: already running as PID 1 on h\./);
  assert.match(remoteLockedMessage('postgres:x', 1, 'h', true), /already locked by this process/);
  assert.match(new LockedError('postgres:x', process.pid, { host: os.hostname(), thisProcess: false }).message, /is locked: already running as PID/);
  assert.match(new LockedError('postgres:x', null, { host: null }).message, /has not recorded its holder/);
});

test("errors: the server's and the network's, with a Node-style code, the target and the server; EPIPE is not a SQLSTATE", () => {
  const server = '127.0.0.1:5432/app';
  const pgError = (code, message) => Object.assign(new Error(message), { code, severity: 'FATAL' });
  const cases = [
    [pgError('28P01', 'password authentication failed for user "app"'), 'EACCES', /refused the credentials/],
    [pgError('3D000', 'database "nope" does not exist'), 'ENOENT', /no such database/],
    [pgError('42501', 'permission denied for schema public'), 'EACCES', /permission denied/],
    [pgError('57P01', 'terminating connection due to administrator command'), 'ECONNRESET', /ended the session/],
    [pgError('53300', 'sorry, too many clients already'), 'EAGAIN', /no connection to spare/],
    [pgError('XX000', 'internal'), 'EIO', /reported an error/],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'ECONNREFUSED', /cannot reach/],
    [Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), 'EPIPE', /cannot reach/],
    [new Error('timeout expired'), 'ETIMEDOUT', /no answer/],
    [new Error('Connection terminated unexpectedly'), 'ECONNRESET', /connection ended/],
    [new Error('Client has encountered a connection error and is not queryable'), 'ECONNRESET', /connection ended/],
    [pgError('08P01', 'unsupported startup parameter: options'), 'ENOTSUP', /goes through a pooler, which refused pidguard's startup settings/],
  ];
  for (const [cause, code, words] of cases) {
    const error = serverError(cause, 'postgres:nightly', server, 'while connecting');
    assert.equal(error.code, code, cause.message);
    assert.match(error.message, words);
    assert.match(error.message, /\(postgres:nightly on 127\.0\.0\.1:5432\/app\)$/);
    assert.equal(error.path, 'postgres:nightly');
    assert.equal(error.server, server);
    assert.equal(error.cause, cause);
    assert.equal(serverError(error, 'postgres:other', 'x', 'y'), error, 'a FleetError passes unchanged');
  }
  assert.equal(sqlStateOf(Object.assign(new Error('x'), { code: 'EPIPE' })), undefined);
  assert.equal(sqlStateOf(pgError('55P03', 'lock timeout')), '55P03');
  assert.equal(serverError(pgError('42P01', 'x'), 't', 's', 'd').sqlState, '42P01');
});

test('startup options: the caller\'s first, pidguard\'s after them (the last -c of a name wins)', () => {
  const ours = '-c search_path=pg_catalog,pg_temp -c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0';
  assert.equal(connection.startupOptions(undefined), ours);
  assert.equal(connection.startupOptions('  '), ours);
  assert.equal(connection.startupOptions('-c search_path=app -c work_mem=64MB '), `-c search_path=app -c work_mem=64MB ${ours}`);
  assert.equal(connection.SAFE_SEARCH_PATH, 'pg_catalog,pg_temp');
});

test('a proxy between: the server sees another address or port than this end has (IPv4 in IPv6 counts as IPv4)', () => {
  const { proxyBetween, plainAddress } = open;
  assert.equal(plainAddress('::ffff:10.0.0.5'), '10.0.0.5');
  assert.equal(plainAddress('::1'), '::1');
  assert.equal(proxyBetween({ address: '::ffff:127.0.0.1', port: 40000 }, { address: '127.0.0.1', port: 40000 }), null);
  assert.equal(proxyBetween({ address: '10.0.0.9', port: 40000 }, { address: null, port: null }), null); // a Unix socket
  assert.equal(proxyBetween({ address: '10.0.0.9', port: 40000 }, { address: '10.0.0.9', port: 40001 }), 'the server sees this connection come from 10.0.0.9:40001, and this end of it is 10.0.0.9:40000');
  assert.match(proxyBetween({ address: undefined, port: undefined }, { address: '10.0.0.1', port: 5 }), /this end of it is \?:\?$/);
  assert.equal(settleConnect({}, undefined).proxy, 'warn');
  assert.equal(settleConnect({ proxy: 'allow' }, undefined).proxy, 'allow');
  assert.throws(() => settleConnect({ proxy: 'yes' }, undefined), { code: 'ERR_INVALID_ARG_VALUE', message: /options\.proxy must be 'warn', 'refuse' or 'allow'/ });
});

test('the command line: a lock across hosts is told by the lock argument\'s own position, as the file lock\'s parser finds it', () => {
  const { isFleetCommandLine, parseFleetCommandLine, MAX_GRACE_MS } = fleetArgs;
  for (const argv of [['run', 'postgres:x', 'cmd'], ['run', '-w', '5', 'postgres:x', '--', 'cmd'], ['run', '--', 'postgres:x', 'cmd'], ['run', '-w5', '--grace=2', 'postgres:x', 'cmd'],
    ['status', '--json', 'postgres:x'], ['stop', 'postgres:x', '-t', '3'], ['wait', '-t', '1', 'postgres:x']]) {
    assert.equal(isFleetCommandLine(argv), true, argv.join(' '));
  }
  // A command's own postgres:// argument, or an option's value, is not the lock.
  for (const argv of [['run', '/run/app.pid', 'echo', 'postgres://app@db/app'], ['run', '-w', '5', '/run/app.pid', 'psql', 'postgres://db/app'],
    ['run', '-E', '3', '/run/app.pid', '--', 'echo', 'postgres:x'], ['run', '/run/app.pid', '-c', 'psql postgres://db/app'], ['stop', '/run/app.pid'],
    ['status', '/run/app.pid', 'postgres:x'], ['run', '--unknown', 'postgres:x', 'cmd'], ['version'], []]) {
    assert.equal(isFleetCommandLine(argv), false, argv.join(' '));
  }
  assert.deepEqual(parseFleetCommandLine(['run', '-w', '5', 'postgres:x', 'echo', '-n', 'postgres://db']),
    { name: 'run', lock: 'x', command: ['echo', '-n', 'postgres://db'], shell: false, waitMs: 5000, conflictExitCode: 1, graceMs: 1000, proxy: undefined });
  assert.deepEqual(parseFleetCommandLine(['run', '--kill-after', '2', '--proxy', 'refuse', 'postgres:x', '-c', 'a && b']),
    { name: 'run', lock: 'x', command: ['a && b'], shell: true, waitMs: 0, conflictExitCode: 1, graceMs: 2000, proxy: 'refuse' });
  assert.deepEqual(parseFleetCommandLine(['stop', '-o', 'postgres:x']), { name: 'stop', lock: 'x', timeoutMs: 10_000, okNoDo: true });
  // Mistakes are usage errors (exit 64), in the command's words, not the library's option names.
  const usage = (argv, words) => assert.throws(() => parseFleetCommandLine(argv), (error) => error.name === 'UsageError' && words.test(error.message), argv.join(' '));
  usage(['run', `postgres:${'x'.repeat(300)}`, 'true'], /^run: the lock name must be at most 255 bytes/);
  usage(['run', 'postgres:a\nb', 'true'], /^run: the lock name must not contain control characters/);
  usage(['status', 'postgres:'], /missing the lock's name/);
  usage(['run', '--grace', '3000000', 'postgres:x', 'true'], /^run: --grace takes at most 2147479 seconds/);
  usage(['run', '-w', '-1', 'postgres:x', 'true'], /-w, --wait takes a number of seconds or 'forever', got '-1'/);
  usage(['run', '-s', 'postgres:x', 'true'], /^run: -s is for PID files, not postgres:<name>/);
  usage(['stop', '--retry', '5', 'postgres:x'], /^stop: --retry is for PID files/);
  usage(['run', '--proxy', 'maybe', 'postgres:x', 'true'], /--proxy takes warn, refuse or allow/);
  assert.equal(MAX_GRACE_MS, 2_147_479_000);
  assert.doesNotThrow(() => settleConnect({ graceMs: MAX_GRACE_MS + 1000 }, undefined)); // run's grace plus its kill margin fits
});

test('loading pidguard never loads pg, and pidguard/postgres loads it only at its first connection', () => {
  const require = createRequire(import.meta.url);
  const script = `
    const before = Object.keys(require.cache).length;
    require('pidguard');
    const afterRoot = Object.keys(require.cache).some((f) => /node_modules[\\\\/]pg[\\\\/]/.test(f));
    const fleet = require('pidguard/postgres');
    const afterFleet = Object.keys(require.cache).some((f) => /node_modules[\\\\/]pg[\\\\/]/.test(f));
    console.log(JSON.stringify({ afterRoot, afterFleet, api: Object.keys(fleet).sort() }));`;
  const { execFileSync } = require('node:child_process');
  const seen = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname }));
  assert.deepEqual(seen, { afterRoot: false, afterFleet: false, api: ['FleetLock', 'FleetSession', 'LockedError', 'acquire', 'connect', 'inspect'] });
});

test('the typed surface: the README example and every call compile against the declarations, with no @types/pg', { timeout: 60_000 }, () => {
  const { execFileSync } = createRequire(import.meta.url)('node:child_process');
  const root = new URL('..', import.meta.url).pathname;
  const tsc = `${root}node_modules/typescript/bin/tsc`;
  // Throws, with the compiler's output, unless it compiles.
  execFileSync(process.execPath, [tsc, '-p', `${root}test/types/postgres-tsconfig.json`], { encoding: 'utf8' });
  // A type error is caught: the check can fail.
  const bad = `${root}build/postgres-bad.ts`;
  const { writeFileSync, rmSync, mkdirSync } = createRequire(import.meta.url)('node:fs');
  mkdirSync(`${root}build`, { recursive: true });
  writeFileSync(bad, "import { acquire } from 'pidguard/postgres';\nexport const x: Promise<number> = acquire('x');\n");
  try {
    assert.throws(() => execFileSync(process.execPath, [tsc, '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--strict', '--types', 'node', bad], { encoding: 'utf8' }),
      (error) => /FleetLock/.test(error.stdout));
  } finally {
    rmSync(bad, { force: true });
  }
});

test("the fleet storm's journal checker refuses two holders, a token that does not grow, and a refusal naming nobody trying", () => {
  const ok = ['try 1', 'try 2', 'enter 1 5', 'refused 2 1 vm', 'done 2', 'leave 1', 'done 1', 'try 2', 'enter 2 6', 'leave 2', 'done 2'];
  assert.deepEqual(checkFleetJournal(ok, 'vm'), { enters: 2, refusals: 1, lastToken: '6' });
  // A refusal may name a process whose attempt did not end holding (a timed-out wait granted late).
  assert.equal(checkFleetJournal(['try 1', 'try 2', 'try 3', 'refused 2 1 vm', 'done 2', 'refused 1 3 vm', 'done 1', 'done 3'], 'vm').refusals, 2);
  assert.throws(() => checkFleetJournal(['try 1', 'try 2', 'enter 1 5', 'enter 2 6'], 'vm'), /entered while 1 held/);
  assert.throws(() => checkFleetJournal(['try 1', 'enter 1 5', 'leave 1', 'done 1', 'try 2', 'enter 2 5'], 'vm'), /token 5 after 5/);
  assert.throws(() => checkFleetJournal(['try 1', 'enter 1 5', 'leave 1', 'done 1', 'try 2', 'refused 2 1 vm', 'done 2'], 'vm'), /naming 1, which was not even trying/);
  assert.throws(() => checkFleetJournal(['try 1', 'try 2', 'enter 1 5', 'refused 2 1 other-host', 'done 2'], 'vm'), /naming host other-host/);
  assert.throws(() => checkFleetJournal(['try 2', 'refused 2 null null', 'done 2'], 'vm'), /naming host null/);
});
