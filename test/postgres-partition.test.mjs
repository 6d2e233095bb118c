// A network partition between a holder and its server, made with two network namespaces and a veth
// pair that the test creates and removes: the holder must emit 'lost' strictly before the server
// frees the lock for anyone else (docs/across-hosts.md: the inequality that bounds.ts enforces).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { acquire } from 'pidguard/postgres';
import { NamespacePair, netnsSkipReason } from './fixtures/netns.mjs';
import { FleetAgent, msBetween, PostgresServer, ROLES, skip, until } from './postgres-helpers.mjs';

const skipPartition = skip || netnsSkipReason();

describe('a network partition between holder and server', { skip: skipPartition, timeout: 120_000 }, () => {
  let pair;
  let server;
  before(async () => {
    pair = NamespacePair.create();
    server = await PostgresServer.start({ netns: pair.server, host: pair.serverAddress });
  }, { timeout: 60_000 });
  after(() => {
    server?.destroy();
    pair?.removeSync();
  });

  test("a finite wait cut off from the server ends the health check's timeout after the wait's end, with ETIMEDOUT", async (t) => {
    const quick = { healthCheckIntervalMs: 200, healthCheckTimeoutMs: 300, graceMs: 500 };
    // The holder (the holder's role, which may write the token table) is on the Unix socket, which no partition cuts.
    const holder = await acquire('partitioned-wait', { connection: { host: server.dir, port: server.port, user: ROLES.holder, database: 'postgres' } });
    t.after(() => holder.release());
    const waiter = await FleetAgent.start(t, server.url(), quick, { netns: pair.client });
    const startedAt = process.hrtime.bigint();
    const answer = waiter.send({ op: 'acquire', name: 'partitioned-wait', wait: 1000 });
    await until(() => server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '1', 10_000, 'the waiter to queue');
    pair.partition();
    let timer;
    try {
      // Neither an answer nor an error can come through the cut: only the client's own deadline ends it.
      const settled = await Promise.race([answer, new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), 15_000);
      })]);
      assert.notEqual(settled, null, 'acquire(wait: 1000) still pending 15 s after it was called');
      assert.equal(settled.code, 'ETIMEDOUT', settled.message);
      assert.match(settled.message, /no answer from the server 300 ms after the wait's end \(1000 ms\): the connection was dropped/);
      assert.ok(msBetween(startedAt, settled.at) >= 1300, `${msBetween(startedAt, settled.at)} ms`);
    } finally {
      clearTimeout(timer);
      pair.heal();
    }
  });

  for (const [label, options] of [
    ['a short health check', { healthCheckIntervalMs: 200, healthCheckTimeoutMs: 300, graceMs: 500 }],
    ['the defaults', {}],
  ]) {
    test(`${label}: 'lost' strictly before the server frees the lock, by at least the grace`, async (t) => {
      const name = `partitioned-${label.replaceAll(' ', '-')}`;
      // The holder runs in the client namespace and reaches the server over the veth pair.
      const holder = await FleetAgent.start(t, server.url(), options, { netns: pair.client });
      const held = await holder.ask({ op: 'acquire', name });
      assert.equal(held.ok, true, held.message);
      // The waiter reaches the server over its Unix socket, which no partition cuts.
      let freedAt = null;
      const waiting = acquire(name, { connection: { host: server.dir, port: server.port, user: 'postgres', database: 'postgres' }, wait: 60_000 })
        .then((lock) => {
          freedAt = process.hrtime.bigint();
          return lock;
        });
      await until(() => server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") === '1', 10_000, 'the waiter to queue');
      const cutAt = process.hrtime.bigint();
      pair.partition();
      try {
        const lost = await holder.nextLost();
        const waiter = await waiting;
        const lostMs = msBetween(cutAt, lost.at);
        const freedMs = msBetween(cutAt, freedAt);
        t.diagnostic(`lost ${lostMs.toFixed(0)} ms after the cut (bound ${held.lostWithinMs} ms after the server last heard from it), ` +
          `freed ${freedMs.toFixed(0)} ms after (no sooner than ${held.freedAfterMs} ms after)`);
        assert.equal(lost.code, 'ELOST');
        assert.equal(lost.held, false);
        assert.match(lost.message, /health check went unanswered/);
        assert.ok(BigInt(lost.at) < freedAt, `lost at ${lostMs} ms, freed at ${freedMs} ms`);
        assert.ok(lostMs <= held.lostWithinMs, `lost ${lostMs} ms after the cut, bound ${held.lostWithinMs}`);
        // The grace promised between 'lost' and the earliest moment anyone else holds.
        const graceMs = held.freedAfterMs - held.lostWithinMs;
        assert.ok(freedMs - lostMs >= graceMs, `${freedMs - lostMs} ms between lost and freed, grace ${graceMs} ms`);
        assert.ok(waiter.token > BigInt(held.token));
        await waiter.release();
      } finally {
        pair.heal();
      }
    });
  }
});
