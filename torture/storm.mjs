// Storms with random SIGKILLs: `workers` processes try for one PID file at the same instant,
// round after round; some are SIGKILLed in the middle of trying, and the winner either releases
// or is SIGKILLed too. The O_APPEND journal, written by the holders themselves and by this
// controller when it has seen a process die, must show never two holders, and every refusal must
// name a process that held the lock in that round.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, child, here, journalWriter, random, readJournal, scratch } from './lib.mjs';

/** Checks the journal's story: one holder at a time, and refusals that name a holder. Pure. */
export function checkJournal(lines) {
  let inside = null;
  let enters = 0;
  let refusals = 0;
  const rounds = [];
  for (const line of lines) {
    if (line.startsWith('round ')) rounds.push([]);
    else rounds.at(-1).push(line.split(' '));
  }
  for (const [index, events] of rounds.entries()) {
    const where = `round ${index + 1}`;
    check(inside === null, `${where}: starts with ${inside} still inside`);
    const died = new Set(events.filter(([what]) => what === 'died').map(([, pid]) => pid));
    const entered = new Set();
    for (const [what, pid, named] of events) {
      if (what === 'enter') {
        // Another may enter only once the one inside has died (its lock died with it); the
        // controller can record the death only after it has seen it, so later in the round.
        check(inside === null || died.has(inside), `${where}: ${pid} entered while ${inside} held the lock`);
        inside = pid;
        entered.add(pid);
        enters += 1;
      } else if (what === 'leave') {
        check(inside === pid, `${where}: ${pid} left while ${inside} held the lock`);
        inside = null;
      } else if ((what === 'died' || what === 'killed') && inside === pid) {
        inside = null; // died mid-attempt, or the winner killed at the end of the round
      }
    }
    for (const [what, pid, named] of events) {
      if (what !== 'refused') continue;
      refusals += 1;
      check(entered.has(named) || died.has(named), `${where}: ${pid} was refused naming ${named}, which held nothing then`);
    }
  }
  return { rounds: rounds.length, enters, refusals };
}

export async function storm({ workers: count, rounds, mode }) {
  const { dir, cleanup } = scratch('storm');
  const file = path.join(dir, 'storm.pid');
  const journalFile = path.join(dir, 'journal');
  const journal = journalWriter(journalFile);
  const startWorker = async () => {
    const worker = child(path.join(here, 'storm-worker.mjs'), [file, journalFile], { PIDGUARD_MODE: mode });
    check((await worker.next()) === 'ready', 'a worker did not start');
    return worker;
  };
  let workers = await Promise.all(Array.from({ length: count }, startWorker));
  let midAcquireKills = 0;
  let holderKills = 0;
  try {
    for (let round = 1; round <= rounds; round += 1) {
      journal.write(`round ${round}`);
      const victims = new Set();
      if (Math.random() < 0.3) for (let k = 1 + random(3); victims.size < k; ) victims.add(workers[random(count)]);
      for (const worker of workers) worker.send('go');
      if (victims.size > 0) {
        await sleep(random(3));
        for (const victim of victims) victim.kill();
      }
      const outcomes = await Promise.all(workers.map(async (worker) => {
        if (!victims.has(worker)) return worker.next();
        await worker.exited;
        journal.write(`died ${worker.pid}`);
        return 'killed';
      }));
      midAcquireKills += victims.size;
      const errors = outcomes.filter((outcome) => outcome.startsWith('error'));
      check(errors.length === 0, `round ${round}: ${errors[0]}`);
      const winners = workers.filter((_, i) => outcomes[i] === 'won');
      check(winners.length <= 1, `round ${round}: ${winners.length} winners`);
      check(winners.length === 1 || victims.size > 0, `round ${round}: nobody won a free lock`);
      const [winner] = winners;
      if (winner !== undefined && Math.random() < 0.5) {
        winner.send('release');
        check((await winner.next()) === 'released', `round ${round}: the winner did not release`);
      } else if (winner !== undefined) {
        winner.kill();
        await winner.exited;
        journal.write(`killed ${winner.pid}`); // after every attempt of the round: excuses no entry
        victims.add(winner);
        holderKills += 1;
      }
      workers = await Promise.all(workers.map((worker) => (victims.has(worker) ? startWorker() : worker)));
    }
  } finally {
    for (const worker of workers) worker.kill();
    await Promise.all(workers.map((worker) => worker.exited));
    journal.close();
  }
  try {
    const story = checkJournal(readJournal(journalFile));
    // What crashes left beside the PID file: fallback drafts of processes killed since the last
    // takeover (a takeover removes those of dead processes), or a guard waiting out its stale time.
    const leftovers = fs.readdirSync(dir).filter((name) => !['journal', 'storm.pid'].includes(name));
    return { ...story, midAcquireKills, holderKills, leftovers: leftovers.length };
  } finally {
    cleanup();
  }
}
