// Event loop and threadpool health: fs.promises.readFile of a small file while 16 waits for a
// held lock are pending. A wait that blocks a libuv threadpool thread (there are 4) starves
// every fs call of the process; pidguard waits on threads of its own.
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { acquire, acquireSync } from 'pidguard';
import { untilBlocked } from './kernel-waiters.mjs';
import { peers } from './peers.mjs';
import { summarize } from './stats.mjs';

const READS = 50;
/** Past this, a read is starved: recorded as this long, and the rest are not attempted. */
const STARVED_MS = 5000;

/** readFile latencies in ms; `starved` when one did not finish within STARVED_MS. */
export async function readFileLatency() {
  const samples = [];
  for (let i = 0; i < READS; i += 1) {
    const started = process.hrtime.bigint();
    let timer;
    const read = fs.promises.readFile(fileURLToPath(import.meta.url)).then(() => true);
    const done = await Promise.race([read, new Promise((resolve) => { timer = setTimeout(resolve, STARVED_MS, false); })]);
    clearTimeout(timer);
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (!done) return { summary: summarize(samples), starved: true, pendingRead: read };
  }
  return { summary: summarize(samples), starved: false, pendingRead: Promise.resolve() };
}

export async function readFileWithWaits(name, file) {
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
  const peer = peers[name];
  const release = peer.hold(file);
  const waits = Array.from({ length: 16 }, () => peer.wait(file));
  // A wait on the threadpool blocks one of its threads: as many as it has are in the kernel, the
  // rest queued behind them.
  await untilBlocked(file, peer.waitsOnThreadpool ? Math.min(16, Number(process.env.UV_THREADPOOL_SIZE ?? 4)) : 16);
  const result = await readFileLatency();
  await release();
  // Each waiter releases as soon as it holds, so that the next can have it.
  await Promise.all(waits.map(async (wait) => (await wait)()));
  await result.pendingRead;
  return result;
}
