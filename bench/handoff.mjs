// Handoff: the holder (this process) releases, clock read just before the release call, until
// the waiter (another process, already waiting) holds, clock read there. Crash recovery: the
// same, with the holder another process that is SIGKILLed, clock read just before the kill.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { untilWaiting } from './kernel-waiters.mjs';
import { peers } from './peers.mjs';
import { summarize } from './stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

function start(script, name, file) {
  const child = spawn(process.execPath, [path.join(here, script), name, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, next: async () => (await lines.next()).value };
}

/** Handoff latencies in ms, `rounds` of them. */
export async function handoff(name, file, rounds) {
  const peer = peers[name];
  const waiter = start('waiter.mjs', name, file);
  await waiter.next(); // ready
  const samples = [];
  try {
    for (let round = 0; round < rounds; round += 1) {
      const release = peer.hold(file);
      waiter.child.stdin.write('go\n');
      await waiter.next(); // waiting
      await untilWaiting(peer, file);
      const releasedAt = process.hrtime.bigint();
      await release();
      const heldAt = BigInt(await waiter.next());
      samples.push(Number(heldAt - releasedAt) / 1e6);
    }
  } finally {
    waiter.child.stdin.end();
  }
  return summarize(samples);
}

/**
 * A holder process: a Node process holding the lock with the named library, or with
 * `cProcess`, flock(1) (a small C process; -o keeps the lock from the shell it runs).
 */
function startHolder(name, file, cProcess) {
  if (!cProcess) return start('holder.mjs', name, file);
  const child = spawn('flock', ['-o', file, '-c', 'echo held; exec sleep 1000'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, next: async () => (await lines.next()).value, group: child.pid };
}

/**
 * Crash-recovery latencies in ms: a holder process SIGKILLed until the waiter holds. The waiter
 * uses the named library; the holder too, or flock(1) with `cProcess`.
 */
export async function crashRecovery(name, file, rounds, cProcess = false) {
  const peer = peers[name];
  const waiter = start('waiter.mjs', name, file);
  await waiter.next(); // ready
  const samples = [];
  try {
    for (let round = 0; round < rounds; round += 1) {
      const holder = startHolder(name, file, cProcess);
      if ((await holder.next()) !== 'held') throw new Error(`${name}: the holder did not take the lock`);
      waiter.child.stdin.write('go\n');
      await waiter.next(); // waiting
      await untilWaiting(peer, file);
      const killedAt = process.hrtime.bigint();
      holder.child.kill('SIGKILL');
      const heldAt = BigInt(await waiter.next());
      samples.push(Number(heldAt - killedAt) / 1e6);
      if (holder.group !== undefined) process.kill(-holder.group, 'SIGKILL'); // the shell flock(1) ran
    }
  } finally {
    waiter.child.stdin.end();
  }
  return summarize(samples);
}
