// The unlink race: processes looping acquire and release on one PID file as fast as they can,
// each recording enter and leave in an O_APPEND journal (test/fixtures/churn.mjs), which must
// show no overlap, and no holder ever finding another PID in the file it holds.
import path from 'node:path';
import { check, child, here, readJournal, scratch } from './lib.mjs';

export async function churn({ processes, holds, mode }) {
  const { dir, cleanup } = scratch('churn');
  const file = path.join(dir, 'churn.pid');
  const journalFile = path.join(dir, 'journal');
  try {
    const workers = Array.from({ length: processes }, () =>
      child(path.join(here, '..', 'test', 'fixtures', 'churn.mjs'), [file, journalFile, String(holds)], { PIDGUARD_MODE: mode }));
    for (const worker of workers) check((await worker.next()) === 'ready', 'a churner did not start');
    for (const worker of workers) worker.proc.stdin.end('go\n');
    const results = await Promise.all(workers.map(async (worker) => JSON.parse(await worker.next())));
    const statuses = await Promise.all(workers.map((worker) => worker.exited));
    check(statuses.every(({ code }) => code === 0), `a churner failed: ${JSON.stringify(statuses)}`);
    let inside = null;
    const lines = readJournal(journalFile);
    for (const [index, line] of lines.entries()) {
      const [what, pid] = line.split(' ');
      check(what !== 'foreign', `line ${index + 1}: ${pid} found another PID in the file it held`);
      if (what === 'enter') check(inside === null, `line ${index + 1}: ${pid} entered while ${inside} held the lock`);
      else check(inside === pid, `line ${index + 1}: ${pid} left without holding`);
      inside = what === 'enter' ? pid : null;
    }
    check(lines.length === processes * holds * 2, `${lines.length} journal lines for ${processes * holds} holds`);
    return { cycles: processes * holds, refusals: results.reduce((sum, { refused }) => sum + refused, 0) };
  } finally {
    cleanup();
  }
}
