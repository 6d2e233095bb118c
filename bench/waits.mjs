// npm run bench: waiting for a lock, pidguard beside its peers, measured in the same run.
//   handoff: the holder releases (clock read just before the release call) until the waiter,
//            another process, holds (clock read there; process.hrtime is one monotonic clock
//            for every process on the machine).
//   cancel:  AbortController.abort() until the pending acquire() rejects.
//   readFile with 16 waits pending: does waiting starve libuv's threadpool?
// ROUNDS=n sets the number of handoffs per library (default 200).
import { spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { acquire, acquireSync } from 'pidguard';
import { peers } from './peers.mjs';
import { ms, printTable, summarize } from './stats.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 200);
const here = path.dirname(fileURLToPath(import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-bench-'));

/** Waits until the kernel lists a waiter blocked on `file` (so the handoff starts from a real wait). */
async function untilBlocked(file, count = 1) {
  const { ino } = fs.statSync(file, { bigint: true });
  const suffix = `:${ino} 0 EOF`;
  const blocked = () => fs.readFileSync('/proc/locks', 'utf8').split('\n').filter((l) => l.includes('->') && l.trim().endsWith(suffix)).length;
  for (let i = 0; blocked() < count; i += 1) {
    if (i > 2000) throw new Error(`no waiter blocked on ${file}`);
    await sleep(1);
  }
}

async function handoff(name) {
  const peer = peers[name];
  const rounds = peer.rounds ?? ROUNDS;
  const file = path.join(dir, `handoff-${Object.keys(peers).indexOf(name)}`);
  const waiter = spawn(process.execPath, [path.join(here, 'handoff-waiter.mjs'), name, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: waiter.stdout })[Symbol.asyncIterator]();
  const next = async () => (await lines.next()).value;
  await next(); // ready
  const samples = [];
  for (let round = 0; round < rounds; round += 1) {
    const release = peer.hold(file);
    waiter.stdin.write('go\n');
    await next(); // waiting
    if (peer.blocksInKernel) await untilBlocked(file);
    else await sleep(30); // a poller: let it settle into its retry loop
    const releasedAt = process.hrtime.bigint();
    await release();
    const heldAt = BigInt(await next());
    samples.push(Number(heldAt - releasedAt) / 1e6);
  }
  waiter.stdin.end();
  return summarize(samples);
}

async function cancelLatency() {
  const file = path.join(dir, 'cancel.pid');
  const holder = acquireSync(file);
  const samples = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const controller = new AbortController();
    const pending = acquire(file, { wait: true, signal: controller.signal }).catch(() => process.hrtime.bigint());
    await untilBlocked(file);
    const abortedAt = process.hrtime.bigint();
    controller.abort();
    samples.push(Number((await pending) - abortedAt) / 1e6);
  }
  holder.release();
  return summarize(samples);
}

async function readFileLatency(samplesWanted = 50) {
  const samples = [];
  for (let i = 0; i < samplesWanted; i += 1) {
    const started = process.hrtime.bigint();
    await fs.promises.readFile(fileURLToPath(import.meta.url));
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return summarize(samples);
}

async function readFileWithWaits(name) {
  const file = path.join(dir, `pool-${name}`);
  if (name === 'pidguard') {
    const holder = acquireSync(file);
    const controller = new AbortController();
    setMaxListeners(32, controller.signal);
    const waits = Array.from({ length: 16 }, () => acquire(file, { wait: true, signal: controller.signal }).catch(() => {}));
    await untilBlocked(file, 16);
    const result = await readFileLatency();
    controller.abort();
    await Promise.all(waits);
    holder.release();
    return result;
  }
  const release = peers[name].hold(file);
  const waits = Array.from({ length: 16 }, () => peers[name].wait(file));
  await untilBlocked(file, 16);
  const result = await readFileLatency();
  await release();
  // Each waiter releases as soon as it holds, so that the next can have it.
  await Promise.all(waits.map(async (wait) => (await wait)()));
  return result;
}

try {
  console.log(`pidguard wait benchmarks: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);

  const handoffRows = [];
  for (const name of Object.keys(peers)) {
    const s = await handoff(name);
    handoffRows.push({ name, n: s.n, 'median ms': ms(s.median), 'p90 ms': ms(s.p90), 'p99 ms': ms(s.p99), 'max ms': ms(s.max) });
  }
  const base = Number(handoffRows[0]['median ms']);
  for (const row of handoffRows) row['x pidguard'] = (Number(row['median ms']) / base).toFixed(1);
  printTable('Handoff: holder releases until a waiting process holds', ['n', 'median ms', 'p90 ms', 'p99 ms', 'max ms', 'x pidguard'], handoffRows);

  const cancel = await cancelLatency();
  printTable('Cancel: abort() until the pending acquire() rejects (fs-native-extensions cannot cancel a wait)', ['n', 'median ms', 'p99 ms', 'max ms'], [
    { name: 'pidguard', n: cancel.n, 'median ms': ms(cancel.median), 'p99 ms': ms(cancel.p99), 'max ms': ms(cancel.max) },
  ]);

  const idle = await readFileLatency();
  const poolRows = [{ name: 'no waits pending', 'median ms': ms(idle.median), 'max ms': ms(idle.max) }];
  for (const name of ['pidguard', 'fs-native-extensions']) {
    const s = await readFileWithWaits(name);
    poolRows.push({ name: `16 ${name} waits pending`, 'median ms': ms(s.median), 'max ms': ms(s.max) });
  }
  printTable('fs.promises.readFile of a small file, 50 times', ['median ms', 'max ms'], poolRows);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
