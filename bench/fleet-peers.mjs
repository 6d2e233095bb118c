// The same fleet-lock operations through pidguard/postgres, npm's advisory-lock, and plain polling
// with pg, behind one small interface, so that each benchmark row runs the same driver.
//   hold(url, name):   takes the lock at once; resolves to release()
//   waiter(url, name): resolves to wait(), which resolves to release() once held
//   queues: whether a waiter sits in the server's lock queue (true) or polls (false)
import { createRequire } from 'node:module';
import pg from 'pg';
import { connect } from 'pidguard/postgres';

const require = createRequire(import.meta.url);
const advisoryLock = require('advisory-lock').default;

/** How often the polling peer tries again. */
export const POLL_MS = 10;
const pollKey = (name) => BigInt.asIntN(64, BigInt(`0x${Buffer.from(name).toString('hex').padEnd(16, '0').slice(0, 16)}`)).toString();

export const fleetPeers = {
  'pidguard/postgres': {
    async hold(url, name) {
      const lock = await (await import('pidguard/postgres')).acquire(name, { connection: url });
      return () => lock.release();
    },
    // A warm session: the wait is one statement in the server's queue.
    async waiter(url, name) {
      const session = await connect({ connection: url });
      return async () => {
        const lock = await session.acquire(name, { wait: true });
        return () => lock.release();
      };
    },
    queues: true,
  },
  'advisory-lock': {
    async hold(url, name) {
      const unlock = await advisoryLock(url)(name).tryLock();
      if (!unlock) throw new Error('advisory-lock: not free');
      return unlock;
    },
    // Its lock() connects, then waits in pg_advisory_lock.
    async waiter(url, name) {
      const mutex = advisoryLock(url)(name);
      return () => mutex.lock();
    },
    queues: true,
  },
  [`polling pg_try_advisory_lock every ${POLL_MS} ms`]: {
    async hold(url, name) {
      const client = new pg.Client(url);
      await client.connect();
      await client.query('SELECT pg_advisory_lock($1)', [pollKey(name)]);
      return async () => {
        await client.query('SELECT pg_advisory_unlock($1)', [pollKey(name)]);
        await client.end();
      };
    },
    async waiter(url, name) {
      const client = new pg.Client(url);
      await client.connect();
      return async () => {
        for (;;) {
          const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS taken', [pollKey(name)]);
          if (rows[0].taken) return () => client.query('SELECT pg_advisory_unlock($1)', [pollKey(name)]);
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
      };
    },
    queues: false,
  },
};
