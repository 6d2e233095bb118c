// pidguard/postgres beside a streaming-replication standby: a hot standby takes advisory locks of
// its own, which the primary's holders never see, so every call refuses it (EROFS) rather than
// answer about the wrong server; and after a failover to an asynchronous standby, which may lack
// the last tokens the old primary gave, tokens still increase (the timeline is in the token).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { acquire, inspect } from 'pidguard/postgres';
import { root, run } from './helpers.mjs';
import { skip, suiteServer } from './postgres-helpers.mjs';

const bin = path.join(root, 'bin', 'pidguard.js');

describe('a standby of the server', { skip, timeout: 240_000 }, () => {
  const fixture = suiteServer({ before, after });
  let standby = null;
  after(() => standby?.destroy());
  const pidguard = (url, args) => run(process.execPath, [bin, ...args], { env: { ...process.env, PIDGUARD_POSTGRES_URL: url } });

  test('a hot standby is refused with EROFS by acquire, inspect, status, wait and stop, while the primary has a holder', async () => {
    await (await acquire('job', { connection: fixture.server.url() })).release(); // the table exists, and is replicated
    standby = await fixture.server.standby();
    const holder = await acquire('job', { connection: fixture.server.url() });
    try {
      assert.equal(standby.sql('SELECT pg_is_in_recovery()'), 't');
      const words = /^EROFS: the server is a standby \(in recovery\): its advisory locks are its own, not the primary's: connect to the primary \(postgres:job on /;
      // The questions first: on the standby nobody holds the lock, which is false.
      await assert.rejects(inspect('job', { connection: standby.url() }), { code: 'EROFS', message: words });
      for (const args of [['status', 'postgres:job'], ['wait', '-t', '5', 'postgres:job'], ['stop', 'postgres:job'], ['run', 'postgres:job', '--', 'true']]) {
        const result = pidguard(standby.url(), args);
        assert.equal(result.status, 71, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
        assert.match(result.stderr, /^pidguard: EROFS: the server is a standby \(in recovery\)/, args.join(' '));
      }
      await assert.rejects(acquire('job', { connection: standby.url() }), { code: 'EROFS', message: words });
      await assert.rejects(acquire('job', { connection: standby.url(), wait: 1000 }), { code: 'EROFS', message: words });
      assert.equal(standby.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), '0');
      assert.equal(holder.held, true);
    } finally {
      await holder.release();
    }
  });

  test('after a failover to an asynchronous standby that missed the last tokens, tokens still increase', async () => {
    standby ??= await fixture.server.standby();
    const given = [];
    for (let i = 0; i < 3; i += 1) {
      const lock = await acquire('failover', { connection: fixture.server.url() });
      given.push(lock.token);
      await lock.release();
    }
    // The standby falls behind (stopped here; replication lag in life), the primary goes on
    // giving tokens, then dies, and the standby is promoted.
    standby.stopSync('fast');
    for (let i = 0; i < 3; i += 1) {
      const lock = await acquire('failover', { connection: fixture.server.url() });
      given.push(lock.token);
      await lock.release();
    }
    fixture.server.stopSync('immediate');
    standby.startSync();
    standby.promoteSync();
    const after = [];
    for (let i = 0; i < 3; i += 1) {
      const lock = await acquire('failover', { connection: standby.url(), wait: 30_000 });
      after.push(lock.token);
      await lock.release();
    }
    const highest = given.reduce((a, b) => (a > b ? a : b));
    assert.ok(after[0] > highest, `tokens on the new primary ${after.join(', ')}, after ${given.join(', ')} on the old one`);
    assert.ok(after[1] > after[0] && after[2] > after[1]);
    fixture.server.startSync(); // for the suite's teardown
  });
});
