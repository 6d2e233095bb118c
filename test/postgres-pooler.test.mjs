// A pooler between holder and server: session locks need a session of their own, which a
// transaction-pooling PgBouncer does not give. pidguard/postgres refuses it (ENOTSUP), and holds
// nothing on the server after refusing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { acquire, connect } from 'pidguard/postgres';
import { pgbouncerSkipReason, startPgBouncer } from './fixtures/pgbouncer.mjs';
import { skip, suiteServer } from './postgres-helpers.mjs';

describe('PgBouncer in front of the server', { skip: skip || pgbouncerSkipReason(), timeout: 60_000 }, () => {
  const fixture = suiteServer({ before, after });

  // PgBouncer refuses the startup options pidguard sends (search_path and the timeouts), unless
  // told to drop them; then the pooler's own process key gives it away.
  for (const [mode, ignore] of [['transaction', undefined], ['session', undefined], ['transaction', ['extra_float_digits', 'options']]]) {
    test(`pool_mode=${mode}${ignore ? ', dropping the startup options' : ''}: refused with ENOTSUP, naming the pooler, and no lock left on the server`, async (t) => {
      const url = await startPgBouncer(t, fixture.server, mode, ignore);
      for (const attempt of [() => acquire('pooled', { connection: url }), () => connect({ connection: url })]) {
        const error = await attempt().then(() => null, (e) => e);
        assert.equal(error?.code, 'ENOTSUP', error?.message);
        assert.match(error.message, /goes through a pooler.*transaction-pooling pooler such as PgBouncer's pool_mode=transaction breaks session locks/);
      }
      assert.equal(fixture.server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), '0');
      // Straight to the server, the same lock is there to take.
      const direct = await acquire('pooled', { connection: fixture.server.url() });
      await direct.release();
    });
  }
});
