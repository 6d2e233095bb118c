// The stalled taker of issue 18, item 1, with real processes. A holder whose recorded PID has died
// while it lives (as `pidguard run` is while its command is a zombie); a taker that judges the
// file stale and is slowed down at every link(2) and rename(2) by strace (descheduled, stopped,
// on a slow disk); the holder releasing while the taker is between its claim and its placing; and
// a newcomer waiting for the lock. Exactly one of taker and newcomer holds the lock afterwards,
// and its file is still the one it placed: never a file placed over another's.
import fs from 'node:fs';
import path from 'node:path';
import { appears, startParty, startZombie } from './fallback-parties.mjs';
import { check, scratch } from './lib.mjs';

const pidfile = { mode: 'pidfile' };

export async function stalledTaker({ rounds, delayMs }) {
  const won = { taker: 0, newcomer: 0 };
  for (let round = 1; round <= rounds; round += 1) {
    const { dir, cleanup } = scratch('stalled-taker');
    const file = path.join(dir, 'app.pid');
    const zombie = await startZombie();
    const parties = [];
    try {
      const holder = await startParty();
      const newcomer = await startParty();
      const taker = await startParty({ slowCalls: ['link', 'rename'], delayMs });
      parties.push(holder, newcomer, taker);
      check((await holder.send({ op: 'acquire', path: file, options: pidfile })).ok, 'the holder could not start');
      await holder.send({ op: 'record', pid: zombie.pid });
      const taking = taker.send({ op: 'acquire', path: file, options: pidfile });
      // The taker has claimed the stale version (this scheme's claim, or the one before it):
      // it is now between its claim and its placing, at the pace of strace.
      await appears(dir, ['.claim.', '.takeover.']);
      await holder.send({ op: 'release' });
      const joined = await newcomer.send({ op: 'acquire', path: file, options: { ...pidfile, wait: delayMs * 10 } });
      const took = await taking;
      const holders = [];
      for (const [name, party, answer] of [['taker', taker, took], ['newcomer', newcomer, joined]]) {
        if (!answer.ok) {
          check(answer.code === 'ELOCKED', `round ${round}: the ${name} failed: ${answer.message}`);
          continue;
        }
        const { verify } = await party.send({ op: 'verify' });
        const text = fs.existsSync(file) ? JSON.stringify(fs.readFileSync(file, 'latin1')) : 'nothing';
        check(verify, `round ${round}: the ${name} (PID ${party.pid}) acquired, but its file was replaced under it: the path holds ${text}`);
        holders.push(name);
      }
      check(holders.length === 1, `round ${round}: ${holders.length} holders (${holders.join(', ')})`);
      won[holders[0]] += 1;
    } finally {
      for (const party of parties) party.kill();
      await Promise.all(parties.map((party) => party.exited));
      zombie.end();
      cleanup();
    }
  }
  return { rounds, delayMs, ...Object.fromEntries(Object.entries(won).map(([name, count]) => [`${name}Won`, count])) };
}
