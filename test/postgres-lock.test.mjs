// pidguard/postgres on a real server: taking, refusing, waiting, inspecting and releasing, warm
// sessions, and bad input (each a clear error with a code, and nothing left behind).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { after, before, describe, test } from 'node:test';
import { acquire, connect, inspect, FleetLock, LockedError } from 'pidguard/postgres';
import { freePort } from './fixtures/postgres-server.mjs';
import { here } from './helpers.mjs';
import { FleetAgent, ROLES, serverState, skip, suiteServer, until } from './postgres-helpers.mjs';

/** Why two processes with one PID and host name cannot be made here (unshare needs root), or false. */
const sameHostSkip = process.getuid?.() === 0 ? false : 'PID and UTS namespaces (unshare) need root (CI runs as root)';

describe('pidguard/postgres on a real server', { skip, timeout: 180_000 }, () => {
  const fixture = suiteServer({ before, after });
  const url = () => fixture.server.url();
  /** Asserts that the holder role has no session and the server no advisory lock left. */
  const nothingLeft = async () => {
    await until(() => {
      const state = serverState(fixture.server, ROLES.holder);
      return state.sessions === 0 && state.advisory === 0;
    }, 5000, 'the sessions and locks to be gone');
  };

  test('acquire, held, a token, release (idempotent), and nothing left behind', async () => {
    const lock = await acquire('basic', { connection: url() });
    assert.ok(lock instanceof FleetLock);
    assert.equal(lock.held, true);
    assert.equal(lock.name, 'basic');
    assert.equal(lock.target, 'postgres:basic');
    assert.equal(typeof lock.token, 'bigint');
    assert.equal(lock.pid, process.pid);
    assert.equal(lock.host, os.hostname());
    assert.equal(fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"), '1');
    const first = lock.token;
    const releasing = lock.release();
    assert.equal(lock.held, false);
    assert.equal(lock.release(), releasing);
    await releasing;
    await nothingLeft();
    const again = await acquire('basic', { connection: url() });
    assert.equal(again.token, first + 1n);
    await again[Symbol.asyncDispose]();
    assert.equal(again.held, false);
    await nothingLeft();
  });

  test("contention: LockedError naming the holder's PID and host, from another process", async (t) => {
    const agent = await FleetAgent.start(t, url());
    const held = await agent.ask({ op: 'acquire', name: 'contended' });
    assert.equal(held.ok, true);
    const error = await acquire('contended', { connection: url() }).then(() => null, (e) => e);
    assert.ok(error instanceof LockedError);
    assert.equal(error.code, 'ELOCKED');
    assert.equal(error.pid, agent.pid);
    assert.equal(error.host, os.hostname());
    assert.equal(error.path, 'postgres:contended');
    assert.equal(error.message, `postgres:contended is locked: already running as PID ${agent.pid} on ${os.hostname()}. ` +
      `To stop it: pidguard stop postgres:contended (or on ${os.hostname()}: kill ${agent.pid})`);
    // The refused attempt left no session.
    assert.equal(serverState(fixture.server, ROLES.holder).sessions, 1);
    await agent.ask({ op: 'release', name: 'contended' });
  });

  test('a second session of the holding process is told "this process"; another process is not, even with the same PID and host name (two containers)', { skip: sameHostSkip }, async (t) => {
    const mine = await acquire('twins', { connection: url() });
    try {
      await assert.rejects(acquire('twins', { connection: url() }), {
        code: 'ELOCKED',
        message: `postgres:twins is already locked by this process (PID ${process.pid} on ${os.hostname()}); release that lock before taking it again`,
      });
    } finally {
      await mine.release();
    }
    // Two replicas, each PID 1 in a PID namespace of its own, with one host name: containers
    // started with an explicit hostname. The first holds; the second must not be told it does.
    const replica = () => {
      const child = spawn('unshare', ['--pid', '--fork', '--kill-child', '--uts', 'sh', '-c', 'hostname pidguard-twin && exec "$0" "$1" "$2" "$3"',
        process.execPath, path.join(here, 'fixtures', 'postgres-agent.mjs'), url(), '{}'], { stdio: ['pipe', 'pipe', 'inherit'] });
      t.after(() => child.kill('SIGKILL'));
      const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const next = async () => JSON.parse((await lines.next()).value);
      return { child, next, ask: async (command) => { child.stdin.write(`${JSON.stringify(command)}\n`); return next(); } };
    };
    const first = replica();
    assert.deepEqual(await first.next(), { ready: true, pid: 1 });
    assert.equal((await first.ask({ op: 'acquire', name: 'twins' })).ok, true);
    const second = replica();
    assert.deepEqual(await second.next(), { ready: true, pid: 1 });
    const refused = await second.ask({ op: 'acquire', name: 'twins' });
    assert.equal(refused.code, 'ELOCKED', JSON.stringify(refused));
    assert.equal(refused.message, 'postgres:twins is locked: already running as PID 1 on pidguard-twin. ' +
      'To stop it: pidguard stop postgres:twins (or on pidguard-twin: kill 1)');
  });

  test("inspect: the holder's PID, host, start and token; nulls when free; any role may look", async (t) => {
    assert.deepEqual(await inspect('never-held', { connection: url() }), { name: 'never-held', locked: false, backend: null, pid: null, host: null, since: null, token: null });
    const agent = await FleetAgent.start(t, url());
    const held = await agent.ask({ op: 'acquire', name: 'inspected' });
    for (const role of [ROLES.holder, ROLES.restricted]) {
      const status = await inspect('inspected', { connection: fixture.server.url(role) });
      assert.equal(status.locked, true);
      assert.equal(status.pid, agent.pid);
      assert.equal(status.host, os.hostname());
      assert.equal(status.token, BigInt(held.token));
      assert.equal(status.backend, held.backend);
      assert.ok(status.since instanceof Date && Math.abs(status.since.getTime() - Date.now()) < 60_000);
    }
    await agent.ask({ op: 'release', name: 'inspected' });
    assert.equal((await inspect('inspected', { connection: url() })).locked, false);
  });

  test("wait: a number waits that long in the server's queue, then ELOCKED; true waits until the holder lets go", async () => {
    const holder = await acquire('waited', { connection: url() });
    const started = performance.now();
    await assert.rejects(acquire('waited', { connection: url(), wait: 300 }), { code: 'ELOCKED', pid: process.pid });
    assert.ok(performance.now() - started >= 300);
    const waiting = acquire('waited', { connection: url(), wait: true });
    // Barrier: the waiter is in the server's lock queue (not polling) before the holder lets go.
    await until(() => fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '1', 10_000, 'the waiter to queue');
    await holder.release();
    const waiter = await waiting;
    assert.ok(waiter.token > holder.token); // strictly greater; the timed-out wait used up a number
    await waiter.release();
    await nothingLeft();
  });

  test('a lock taken after a wait longer than the health-check bound stays held: the wait is not silence', async () => {
    const quick = { healthCheckIntervalMs: 100, healthCheckTimeoutMs: 200, graceMs: 500 }; // lost within 400 ms of silence
    const holder = await acquire('long-wait', { connection: url() });
    const waiting = acquire('long-wait', { connection: url(), wait: true, ...quick });
    await until(() => fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '1', 10_000, 'the waiter to queue');
    // Barrier on the server's side: the waiter has been queued for longer than its bound.
    await until(() => fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND waitstart < now() - interval '1 second'") === '1', 10_000, 'a second of waiting');
    await holder.release();
    const waiter = await waiting;
    let lost = null;
    waiter.on('lost', (error) => {
      lost = error;
    });
    // Barrier: the server has answered health checks for longer than the bound since the grant
    // (the backend's last statement started 600 ms or more after it), or the session is gone.
    const grantedAt = waiter.since.toISOString();
    await until(() => fixture.server.sql(`SELECT count(*) FROM pg_stat_activity WHERE pid = ${waiter.backend} AND query_start > '${grantedAt}'::timestamptz + interval '600 ms'`) === '1' ||
      fixture.server.sql(`SELECT count(*) FROM pg_stat_activity WHERE pid = ${waiter.backend}`) === '0', 10_000, 'health checks past the bound');
    assert.equal(lost, null, lost?.message);
    assert.equal(waiter.held, true);
    await waiter.release();
  });

  test('signal: aborting a wait rejects with the reason at once, and leaves neither a session nor a queued request', async () => {
    const holder = await acquire('aborted', { connection: url() });
    const controller = new AbortController();
    const waiting = acquire('aborted', { connection: url(), wait: true, signal: controller.signal });
    await until(() => fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '1', 10_000, 'the waiter to queue');
    const reason = new Error('shutting down');
    controller.abort(reason);
    assert.equal(await waiting.catch((e) => e), reason);
    // Rejected at once; the cancel request and the closed socket end the server's side right after.
    await until(() => fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '0', 5000, 'the queued request to go');
    await assert.rejects(acquire('aborted', { connection: url(), signal: AbortSignal.abort() }), { name: 'AbortError' });
    await holder.release();
    await nothingLeft();
  });

  test('an abort that reaches the server between the reservation and the wait still ends the wait at once', async (t) => {
    const holder = await acquire('abort-race', { connection: url() });
    t.after(() => holder.release());
    const controller = new AbortController();
    const reason = new Error('stopped');
    // The interleaving forced (about 1% of random aborts hit it): the abort comes while the
    // reservation's answer is on its way to this process, which goes on to send the wait only
    // after the cancel request has reached the server, idle between the two statements, which
    // ignores it. node-postgres is the one the library loads (one module instance).
    const original = pg.Client.prototype.query;
    t.after(() => {
      pg.Client.prototype.query = original;
    });
    pg.Client.prototype.query = function query(text, ...rest) {
      const result = original.call(this, text, ...rest);
      if (typeof text !== 'string' || !text.includes('RETURNING reserved')) return result;
      pg.Client.prototype.query = original;
      return result.then(async (value) => {
        controller.abort(reason);
        await new Promise((resolve) => setTimeout(resolve, 200)); // a busy event loop, say
        return value;
      });
    };
    let timer;
    const waiting = acquire('abort-race', { connection: url(), wait: true, signal: controller.signal });
    const outcome = await Promise.race([waiting.catch((e) => e), new Promise((resolve) => {
      timer = setTimeout(() => resolve('still waiting 5 s after the abort'), 5000);
    })]);
    clearTimeout(timer);
    assert.equal(outcome, reason);
    await until(() => fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '0', 5000, 'the queued request to go');
    await holder.release();
    await nothingLeft();
  });

  test('a warm session: one lock at a time, tokens one apart, EBUSY for a second, and close() frees', async () => {
    const session = await connect({ connection: url() });
    let last = null;
    for (let i = 0; i < 50; i += 1) {
      const lock = await session.acquire('warm');
      if (last !== null) assert.equal(lock.token, last + 1n);
      last = lock.token;
      await lock.release();
    }
    const lock = await session.acquire('warm');
    await assert.rejects(session.acquire('other'), { code: 'EBUSY' });
    await session.close();
    assert.equal(lock.held, false);
    await assert.rejects(session.acquire('warm'), { code: 'ECONNRESET', message: /this session has ended/ });
    await nothingLeft();
  });

  test('a statement that fails after the server granted the lock leaves no lock on a warm session', async () => {
    // A trigger makes the token's write fail after the lock was granted in the same statement:
    // the way a lock_timeout or a cancel that comes just as the lock is granted fails (PostgreSQL
    // then keeps the lock granted, and the statement reports the timeout).
    await (await acquire('fails-late', { connection: url() })).release(); // the row exists
    fixture.server.sql(`CREATE FUNCTION fail_late() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.name = 'fails-late' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER fail_late BEFORE UPDATE ON public.pidguard_locks FOR EACH ROW EXECUTE FUNCTION fail_late();`);
    try {
      const session = await connect({ connection: url() });
      for (const wait of [false, 5000]) {
        const error = await session.acquire('fails-late', { wait }).then(() => null, (e) => e);
        assert.equal(error?.code, 'EIO', String(error));
        assert.match(error.message, /refused by a trigger/);
        assert.equal(fixture.server.sql(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = ${session.backend}`), '0', `wait: ${wait}`);
      }
      await session.close();
    } finally {
      fixture.server.sql('DROP TRIGGER fail_late ON public.pidguard_locks; DROP FUNCTION fail_late()');
    }
    await nothingLeft();
  });

  test("another role's functions in schema public never run in pidguard's statements (search_path is pg_catalog's)", async (t) => {
    // A role that may create in public (every role before PostgreSQL 15) plants functions that
    // match pidguard's polymorphic calls better than the built-ins: public.to_json(record) beats
    // pg_catalog.to_json(anyelement), public.count(boolean) beats count("any"). Each would run with
    // the rights of the holder that called it; this one rewinds the tokens and names a false holder.
    const first = await acquire('trojan', { connection: url() });
    fixture.server.sql(`GRANT CREATE ON SCHEMA public TO ${ROLES.other};
      CREATE TABLE public.trojan_calls (what text); GRANT INSERT ON public.trojan_calls TO PUBLIC`);
    t.after(() => fixture.server.sql(`DROP AGGREGATE IF EXISTS public.count(boolean); DROP FUNCTION IF EXISTS public.trojan_step(bigint, boolean);
      DROP FUNCTION IF EXISTS public.to_json(record); DROP TABLE IF EXISTS public.trojan_calls; REVOKE CREATE ON SCHEMA public FROM ${ROLES.other}`));
    fixture.server.sql(`SET ROLE ${ROLES.other};
      CREATE FUNCTION public.to_json(r record) RETURNS json LANGUAGE plpgsql AS $f$ BEGIN
        INSERT INTO public.trojan_calls VALUES ('to_json');
        UPDATE public.pidguard_locks SET token = 0, reserved = 0;
        RETURN json_build_object('backend', (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted LIMIT 1), 'token', NULL,
          'host', 'attacker-host', 'pid', 4242, 'since', NULL, 'recorded', NULL, 'last_token', NULL, 'application_name', 'pidguard 4242@attacker-host');
      END $f$;
      CREATE FUNCTION public.trojan_step(bigint, boolean) RETURNS bigint LANGUAGE plpgsql AS $f$ BEGIN
        INSERT INTO public.trojan_calls VALUES ('count'); RETURN $1 + 1; END $f$;
      CREATE AGGREGATE public.count(boolean) (sfunc = public.trojan_step, stype = bigint, initcond = '0');`);
    // A refused attempt (to_json of the holder's row), and a wait that runs out (count of what it may hold).
    await assert.rejects(acquire('trojan', { connection: url() }), { code: 'ELOCKED', pid: process.pid, host: os.hostname() });
    await assert.rejects(acquire('trojan', { connection: url(), wait: 100 }), { code: 'ELOCKED', pid: process.pid });
    assert.equal((await inspect('trojan', { connection: url() })).token, first.token);
    assert.equal(fixture.server.sql('SELECT count(*) FROM public.trojan_calls'), '0');
    assert.equal(fixture.server.sql("SELECT token FROM public.pidguard_locks WHERE name = 'trojan'"), String(first.token));
    await first.release();
    const next = await acquire('trojan', { connection: url() });
    assert.ok(next.token > first.token, `${next.token} after ${first.token}`);
    await next.release();
  });

  test("through a TCP proxy: a PIDGUARD_PROXY warning by default, ENOTSUP with proxy 'refuse', nothing with 'allow' or when direct", async (t) => {
    // The server's keepalives would watch the proxy, not the holder: the partition bound would
    // rest on the proxy's own timeouts. The server's inet_client_addr/port differ from the
    // holder's end of the connection, and say so.
    const sockets = new Set();
    const proxy = net.createServer((client) => {
      const upstream = net.connect(fixture.server.port, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => {}).on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      proxy.close();
    });
    const via = url().replace(`:${fixture.server.port}/`, `:${proxy.address().port}/`);
    const warnings = [];
    const onWarning = (warning) => {
      if (warning.code === 'PIDGUARD_PROXY') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const nextTick = () => new Promise((resolve) => setImmediate(resolve));

    await (await acquire('proxied', { connection: url() })).release();
    await nextTick();
    assert.deepEqual(warnings, [], 'direct');
    await (await acquire('proxied', { connection: via })).release();
    await (await acquire('proxied', { connection: via })).release(); // once per server
    await nextTick();
    assert.equal(warnings.length, 1, 'through the proxy, by default');
    await assert.rejects(acquire('proxied', { connection: via, proxy: 'refuse' }), { code: 'ENOTSUP', message: /sees this connection come from 127\.0\.0\.1:\d+, and this end of it is 127\.0\.0\.1:\d+: a TCP proxy or a NAT stands between/ });
    await (await acquire('proxied', { connection: via, proxy: 'allow' })).release();
    await nextTick();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^pidguard: postgres:proxied on 127\.0\.0\.1:\d+\/postgres: the server sees this connection come from/);
    await nothingLeft();
  });

  test('a Unix socket works too (no network to partition: the keepalives do not apply)', async () => {
    const lock = await acquire('local', { connection: { host: fixture.server.dir, port: fixture.server.port, user: 'postgres', database: 'postgres' } });
    assert.equal(lock.held, true);
    await lock.release();
  });

  test('bad input: each a clear error with a code and the target, and nothing left behind', async () => {
    const closedPort = await freePort();
    const cases = [
      [{ connection: `postgres://pidguard:x@127.0.0.1:${closedPort}/postgres` }, 'ECONNREFUSED', /cannot reach the server/],
      [{ connection: fixture.server.url(ROLES.holder, { password: 'wrong' }) }, 'EACCES', /refused the credentials.*28P01/],
      [{ connection: url().replace(/\/postgres$/, '/nosuchdb') }, 'ENOENT', /no such database/],
      // A role that may not create the token table, in a schema without it.
      [{ connection: fixture.server.url(ROLES.restricted), schema: 'locked_down' }, 'EACCES', /may not create "locked_down".pidguard_locks.*permission denied for schema locked_down.*have an administrator create it once/],
      [{ connection: url(), schema: 'nosuchschema' }, 'ENOENT', /no such schema/],
    ];
    fixture.server.sql(`CREATE SCHEMA IF NOT EXISTS locked_down; GRANT USAGE ON SCHEMA locked_down TO ${ROLES.restricted}`);
    for (const [options, code, words] of cases) {
      const error = await acquire('bad', options).then(() => null, (e) => e);
      assert.equal(error?.code, code, `${JSON.stringify(options)}: ${error?.message}`);
      assert.match(error.message, words);
      assert.match(error.message, /\(postgres:bad on [^)]+\)$/);
      assert.equal(error.path, 'postgres:bad');
    }
    assert.equal(fixture.server.sql("SELECT count(*) FROM pg_tables WHERE schemaname IN ('locked_down', 'nosuchschema')"), '0');
    for (const name of ['', 'x'.repeat(256), 'a\0b']) {
      await assert.rejects(acquire(name, { connection: url() }), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(inspect(name, { connection: url() }), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    await assert.rejects(acquire('x', { connection: url(), wiat: true }), { code: 'ERR_INVALID_ARG_VALUE', message: /wiat/ });
    // A connection string node-postgres cannot take: its code, the target, and never the string (it may hold a password).
    for (const connection of ['postgres://u:s3cret@host:99999/db', 'postgres://u:s3cret@[::1/db']) {
      for (const call of [() => acquire('bad', { connection }), () => inspect('bad', { connection })]) {
        const error = await call().then(() => null, (e) => e);
        assert.equal(error?.code, 'ERR_INVALID_URL', String(error));
        assert.equal(error.path, 'postgres:bad');
        assert.match(error.message, /^ERR_INVALID_URL: the connection string \(PIDGUARD_POSTGRES_URL or options\.connection\) cannot be used: Invalid URL \(postgres:bad on /);
        assert.doesNotMatch(error.message, /s3cret/);
      }
    }
    assert.deepEqual(serverState(fixture.server, ROLES.restricted), { sessions: 0, advisory: 0 });
    await nothingLeft();
  });

  test('without pg installed: ERR_PIDGUARD_NO_PG saying how to install it, and pidguard itself still works', () => {
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'pg') throw Object.assign(new Error("Cannot find module 'pg'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      require('pidguard');
      require('pidguard/postgres').acquire('x', { connection: 'postgres://h/db' })
        .then(() => console.log('no error'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
    const seen = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname }));
    assert.deepEqual(seen, { code: 'ERR_PIDGUARD_NO_PG', message: 'pidguard/postgres needs node-postgres, an optional peer dependency: npm install pg' });
  });
});
