// pidguard/postgres beside its peers on a real PostgreSQL server (Debian's, initdb'd for the run
// with the server's default durability: fsync and synchronous_commit on), every row measured in
// this run: warm and cold acquire + release against the same SQL sent directly with pg, the
// handoff between processes against npm's advisory-lock and polling, crash recovery, and how fast
// a lost lock is noticed (a terminated session; a network partition, where root may make one).
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { acquire, connect } from 'pidguard/postgres';
import sqlModule from '../dist/postgres/sql.js';
import namesModule from '../dist/postgres/names.js';
import boundsModule from '../dist/postgres/bounds.js';
import { PostgresServer } from '../test/fixtures/postgres-server.mjs';
import { NamespacePair, netnsSkipReason } from '../test/fixtures/netns.mjs';
import { fleetPeers, POLL_MS } from './fleet-peers.mjs';
import { row, summarize } from './stats.mjs';

const { tryAcquireSql, tableOf, UNLOCK_SQL, sessionSetupSql } = sqlModule;
const { lockKey } = namesModule;
const { keepalivesFor, DEFAULT_HEALTH_CHECK } = boundsModule;
const here = path.dirname(fileURLToPath(import.meta.url));
const msSince = (start) => Number(process.hrtime.bigint() - start) / 1e6;

/** A Node script of bench/ run with `args`, whose stdout lines are read with next(). */
function start(script, args) {
  const child = spawn(process.execPath, [path.join(here, script), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, next: async () => (await lines.next()).value };
}

/** Resolves once `count` sessions wait in the server's queue for an advisory lock. */
async function untilQueued(admin, count = 1) {
  for (let i = 0; ; i += 1) {
    const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
    if (rows[0].n >= count) return;
    if (i > 10_000) throw new Error('no waiter queued');
    await sleep(1);
  }
}

/**
 * Warm acquire + release: pidguard on a session kept open, and the floor, the same two statements
 * (the attempt with its token, the unlock) sent directly on a pg client set up the same way.
 * Interleaved in rounds, so that both see the same noise.
 */
async function warmRows(url, scenario) {
  const session = await connect({ connection: url });
  const raw = new pg.Client(url);
  await raw.connect();
  await raw.query(sessionSetupSql(keepalivesFor(DEFAULT_HEALTH_CHECK)));
  const key = lockKey('warm-raw').toString();
  const values = ['warm-raw', key, os.hostname(), process.pid];
  const trySql = tryAcquireSql(tableOf('public'));
  const samples = { pidguard: [], raw: [] };
  for (let round = 0; round < 8; round += 1) {
    for (let i = 0; i < 250; i += 1) {
      const t0 = process.hrtime.bigint();
      await (await session.acquire('warm')).release();
      if (round > 0) samples.pidguard.push(msSince(t0) * 1000);
      const t1 = process.hrtime.bigint();
      const { rows } = await raw.query(trySql, values);
      if (rows[0].token === null) throw new Error('the floor did not take its lock');
      await raw.query(UNLOCK_SQL, [key]);
      if (round > 0) samples.raw.push(msSince(t1) * 1000);
    }
  }
  await session.close();
  await raw.end();
  return [
    row(scenario, 'pidguard/postgres: session.acquire + release', summarize(samples.pidguard), 'µs', 'target: at most 1.3x the floor'),
    row(scenario, 'floor: the same 2 statements sent with pg', summarize(samples.raw), 'µs', 'the attempt with its token, then pg_advisory_unlock'),
  ];
}

/** Cold: connect, acquire, release, disconnect; beside advisory-lock's tryLock + unlock (a connection each) and pg's connect + end. */
async function coldRows(url, scenario, count) {
  const samples = { pidguard: [], advisory: [], connect: [] };
  const mutex = (await import('node:module')).createRequire(import.meta.url)('advisory-lock').default(url)('cold-advisory');
  for (let i = 0; i < count; i += 1) {
    let t = process.hrtime.bigint();
    await (await acquire('cold', { connection: url })).release();
    samples.pidguard.push(msSince(t));
    t = process.hrtime.bigint();
    const unlock = await mutex.tryLock();
    await unlock();
    samples.advisory.push(msSince(t));
    t = process.hrtime.bigint();
    const client = new pg.Client(url);
    await client.connect();
    await client.end();
    samples.connect.push(msSince(t));
  }
  return [
    row(scenario, 'pidguard/postgres: acquire + release', summarize(samples.pidguard), 'ms', 'connect (SCRAM), set the session up, take, unlock, end'),
    row(scenario, 'advisory-lock: tryLock + unlock', summarize(samples.advisory), 'ms', 'connect, pg_try_advisory_lock, unlock, end; no token, no loss detection'),
    row(scenario, 'pg: connect + end alone', summarize(samples.connect), 'ms', 'what every cold start pays'),
  ];
}

/**
 * Holder releases → a waiting process holds (the holder this process), or with `crash` a holder
 * process SIGKILLed → the waiter holds. The peers take turns round by round, so that the machine's
 * noise falls on each alike. Returns each peer's latencies in ms.
 */
async function handoffs(url, admin, peerNames, count, crash) {
  const setups = await Promise.all(peerNames.map(async (peerName) => {
    const name = `${crash ? 'crash' : 'handoff'}-${peerName}`;
    const waiter = start('fleet-waiter.mjs', [peerName, url, name]);
    await waiter.next(); // ready
    return { peerName, peer: fleetPeers[peerName], name, waiter, samples: [] };
  }));
  try {
    for (let round = 0; round < count; round += 1) {
      for (const setup of setups) {
        const { peerName, peer, name, waiter, samples } = setup;
        // The poller pays its interval every time: a quarter of the rounds tell its story.
        if (!peer.queues && round % 4 !== 0) continue;
        let letGo;
        let holder;
        if (crash) {
          holder = start('fleet-holder.mjs', [peerName, url, name]);
          if ((await holder.next()) !== 'held') throw new Error(`${peerName}: the holder did not hold`);
          letGo = () => holder.child.kill('SIGKILL');
        } else {
          letGo = await peer.hold(url, name);
        }
        waiter.child.stdin.write('go\n');
        await waiter.next(); // waiting
        if (peer.queues) await untilQueued(admin);
        else await sleep(3 * POLL_MS); // let the poller settle into its loop
        const letGoAt = process.hrtime.bigint();
        await letGo();
        samples.push(Number(BigInt(await waiter.next()) - letGoAt) / 1e6);
        if (crash) await new Promise((resolve) => (holder.child.exitCode !== null || holder.child.signalCode !== null ? resolve() : holder.child.once('exit', resolve)));
      }
    }
  } finally {
    for (const { waiter } of setups) waiter.child.stdin.end();
  }
  return new Map(setups.map(({ peerName, samples }) => [peerName, summarize(samples)]));
}

/** pg_terminate_backend of a holder's session until its 'lost' event. */
async function terminatedRows(url, admin, scenario, count) {
  const samples = [];
  let bound = 0;
  for (let i = 0; i < count; i += 1) {
    // 'lost' arrives with the server's notice, a moment before the ended backend frees the lock.
    const lock = await acquire('terminated', { connection: url, wait: 10_000 });
    bound = lock.lostWithinMs;
    const lost = new Promise((resolve) => lock.once('lost', () => resolve(process.hrtime.bigint())));
    const t = process.hrtime.bigint();
    await admin.query('SELECT pg_terminate_backend($1)', [lock.backend]);
    samples.push(Number((await lost) - t) / 1e6);
    await lock.release();
  }
  return row(scenario, 'pidguard/postgres', summarize(samples), 'ms', `bound: ${bound} ms (the health check); the server's own notice is faster`);
}

/** A partition between a holder in one namespace and the server in another: 'lost', and freed, after the cut. */
async function partitionRows(scenario, count) {
  const reason = netnsSkipReason();
  if (reason) return [row(scenario, `not measured: ${reason}`, summarize([]), 'ms')];
  const pair = NamespacePair.create();
  const server = await PostgresServer.start({ netns: pair.server, host: pair.serverAddress });
  const lost = [];
  const freed = [];
  let bounds = null;
  try {
    for (let i = 0; i < count; i += 1) {
      const holder = spawn('ip', ['netns', 'exec', pair.client, process.execPath, path.join(here, '..', 'test', 'fixtures', 'postgres-agent.mjs'), server.url(), '{}'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = readline.createInterface({ input: holder.stdout })[Symbol.asyncIterator]();
      const next = async () => JSON.parse((await lines.next()).value);
      await next(); // ready
      holder.stdin.write(`${JSON.stringify({ op: 'acquire', name: 'cut' })}\n`);
      const held = await next();
      bounds = held;
      let freedAt = null;
      const waiting = acquire('cut', { connection: { host: server.dir, port: server.port, user: 'postgres', database: 'postgres' }, wait: 60_000 })
        .then((lock) => {
          freedAt = process.hrtime.bigint();
          return lock;
        });
      const local = new pg.Client({ host: server.dir, port: server.port, user: 'postgres', database: 'postgres' });
      await local.connect();
      await untilQueued(local);
      await local.end();
      const cutAt = process.hrtime.bigint();
      pair.partition();
      const report = await next();
      const lock = await waiting;
      pair.heal();
      lost.push(Number(BigInt(report.at) - cutAt) / 1e6);
      freed.push(Number(freedAt - cutAt) / 1e6);
      await lock.release();
      holder.kill('SIGKILL');
    }
  } finally {
    server.destroy();
    pair.removeSync();
  }
  return [
    row(scenario, "pidguard/postgres: 'lost' emitted", summarize(lost), 'ms', `bound: ${bounds.lostWithinMs} ms after the server last heard from the holder (default health check)`),
    row(scenario, 'pidguard/postgres: the server frees the lock', summarize(freed), 'ms', `no sooner than ${bounds.freedAfterMs} ms after (the session's keepalives)`),
  ];
}

export async function fleetRows({ rounds, progress }) {
  const server = await PostgresServer.start({ settings: { fsync: 'on', full_page_writes: 'on' } });
  const url = server.url();
  const admin = new pg.Client(server.adminUrl);
  await admin.connect();
  const rows = [];
  try {
    // Create the token table once, outside the measurements.
    await (await acquire('setup', { connection: url })).release();
    progress('fleet: warm acquire + release');
    rows.push(...(await warmRows(url, 'fleet lock on PostgreSQL: acquire + release on a warm connection (loopback)')));
    progress('fleet: cold start');
    rows.push(...(await coldRows(url, 'fleet lock on PostgreSQL: cold start, connect + acquire + release (loopback, SCRAM)', 50)));
    const handoffScenario = 'fleet lock on PostgreSQL: holder releases until a waiting process holds';
    progress('fleet: handoffs');
    for (const [peerName, summary] of await handoffs(url, admin, Object.keys(fleetPeers), rounds, false)) {
      rows.push(row(handoffScenario, peerName, summary, 'ms', fleetPeers[peerName].queues ? "the server's own lock queue" : 'no queue: the waiter tries again and again'));
    }
    const crashScenario = 'fleet lock on PostgreSQL: holder SIGKILLed until a waiting process holds';
    progress('fleet: crash recovery');
    for (const [peerName, summary] of await handoffs(url, admin, ['pidguard/postgres', 'advisory-lock'], 30, true)) {
      rows.push(row(crashScenario, peerName, summary, 'ms', 'the server sees the connection close'));
    }
    progress("fleet: pg_terminate_backend until 'lost'");
    rows.push(await terminatedRows(url, admin, "fleet lock on PostgreSQL: pg_terminate_backend of the holder's session until 'lost'", 30));
  } finally {
    await admin.end();
    server.destroy();
  }
  progress('fleet: partitions');
  rows.push(...(await partitionRows('fleet lock on PostgreSQL: network partition (veth link down) until ...', 3)));
  return rows;
}
