// Partitions, again and again: a holder in one network namespace, its server in another, the
// veth pair between them cut while a waiter queues over the server's Unix socket. Every time, the
// holder must emit 'lost' strictly before the waiter holds, by at least the promised grace.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquire } from 'pidguard/postgres';
import { NamespacePair, netnsSkipReason } from '../test/fixtures/netns.mjs';
import { PostgresServer, skipReason } from '../test/fixtures/postgres-server.mjs';
import { check } from './lib.mjs';

const agentScript = fileURLToPath(new URL('../test/fixtures/postgres-agent.mjs', import.meta.url));

/** Why the scenario cannot run here, or false. */
export function partitionSkipReason() {
  return skipReason() || netnsSkipReason();
}

/** The agent of the PostgreSQL tests, in namespace `netns`: answers lines, and 'lost' reports apart. */
function agentIn(netns, connection, options) {
  const proc = spawn('ip', ['netns', 'exec', netns, process.execPath, agentScript, connection, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const answers = [];
  const losses = [];
  let wake = () => {};
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    const message = JSON.parse(line);
    (message.lost === undefined ? answers : losses).push(message);
    wake();
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const take = async (queue) => {
    while (queue.length === 0) {
      const arrived = new Promise((resolve) => {
        wake = resolve;
      });
      await Promise.race([arrived, exited.then(() => Promise.reject(new Error('the holder exited')))]);
    }
    return queue.shift();
  };
  return {
    ask: (command) => {
      proc.stdin.write(`${JSON.stringify(command)}\n`);
      return take(answers);
    },
    next: () => take(answers),
    lost: () => take(losses),
    kill: () => proc.kill('SIGKILL'),
    exited,
  };
}

export async function fleetPartition({ repeats, quick = 0 }) {
  const pair = NamespacePair.create();
  const margins = [];
  let server;
  try {
    server = await PostgresServer.start({ netns: pair.server, host: pair.serverAddress });
    for (let round = 0; round < repeats; round += 1) {
      const options = quick ? { healthCheckIntervalMs: 200, healthCheckTimeoutMs: 300, graceMs: 500 } : {};
      const holder = agentIn(pair.client, server.url(), options);
      try {
        check((await holder.next()).ready, 'the holder did not start');
        const held = await holder.ask({ op: 'acquire', name: 'partitioned' });
        check(held.ok, `the holder could not acquire: ${held.message}`);
        let freedAt = null;
        const waiting = acquire('partitioned', { connection: { host: server.dir, port: server.port, user: 'postgres', database: 'postgres' }, wait: 60_000 })
          .then((lock) => {
            freedAt = process.hrtime.bigint();
            return lock;
          });
        // Barrier: the waiter is in the server's queue before the cut (looked at between turns of
        // the event loop, which the waiter needs to connect).
        for (const deadline = Date.now() + 10_000; server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") !== '1';) {
          check(Date.now() < deadline, 'the waiter did not queue');
          await sleep(5);
        }
        const cutAt = process.hrtime.bigint();
        pair.partition();
        const lost = await holder.lost();
        const waiter = await waiting;
        pair.heal();
        const lostMs = Number(BigInt(lost.at) - cutAt) / 1e6;
        const freedMs = Number(freedAt - cutAt) / 1e6;
        const graceMs = held.freedAfterMs - held.lostWithinMs;
        check(BigInt(lost.at) < freedAt, `round ${round + 1}: lost ${lostMs} ms after the cut, but freed ${freedMs} ms after`);
        check(freedMs - lostMs >= graceMs, `round ${round + 1}: ${freedMs - lostMs} ms between lost and freed, grace ${graceMs} ms`);
        check(waiter.token > BigInt(held.token), `round ${round + 1}: token ${waiter.token} after ${held.token}`);
        margins.push(Math.round(freedMs - lostMs));
        await waiter.release();
      } finally {
        holder.kill();
        await holder.exited;
      }
    }
    return { repeats, marginMs: { min: Math.min(...margins), max: Math.max(...margins) } };
  } finally {
    server?.destroy();
    pair.removeSync();
  }
}
