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

/** A Node script of bench/ run with (name, file), or `command` in a process group of its own. */
function start(script, name, file, command) {
  const child = command === undefined
    ? spawn(process.execPath, [path.join(here, script), name, file], { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, next: async () => (await lines.next()).value };
}

/**
 * `count` rounds of: a hold taken by `takeHold()`, the waiter (another process) set waiting, the
 * hold ended by `letGo()` with the clock read just before, and the waiter's clock when it holds.
 * Latencies in ms.
 */
async function rounds(name, file, count, takeHold) {
  const peer = peers[name];
  const waiter = start('waiter.mjs', name, file);
  await waiter.next(); // ready
  const samples = [];
  try {
    for (let round = 0; round < count; round += 1) {
      const { letGo, cleanup } = await takeHold();
      waiter.child.stdin.write('go\n');
      await waiter.next(); // waiting
      await untilWaiting(peer, file);
      const letGoAt = process.hrtime.bigint();
      await letGo();
      const heldAt = BigInt(await waiter.next());
      samples.push(Number(heldAt - letGoAt) / 1e6);
      cleanup?.();
    }
  } finally {
    waiter.child.stdin.end();
  }
  return summarize(samples);
}

/** Handoff latencies in ms: this process holds, and releases. */
export function handoff(name, file, count) {
  return rounds(name, file, count, () => ({ letGo: peers[name].hold(file) }));
}

/**
 * Crash-recovery latencies in ms: a holder process SIGKILLed until the waiter holds. The holder
 * is a Node process using the named library, or with `cProcess` flock(1), a small C process (-o
 * keeps the lock from the shell it runs, which is killed after the round).
 */
export function crashRecovery(name, file, count, cProcess = false) {
  return rounds(name, file, count, async () => {
    const holder = cProcess
      ? start(null, name, file, ['flock', '-o', file, '-c', 'echo held; exec sleep 1000'])
      : start('holder.mjs', name, file);
    if ((await holder.next()) !== 'held') throw new Error(`${name}: the holder did not take the lock`);
    return {
      letGo: () => holder.child.kill('SIGKILL'),
      cleanup: cProcess ? () => process.kill(-holder.child.pid, 'SIGKILL') : undefined,
    };
  });
}
