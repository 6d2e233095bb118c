// The fleet storm: processes on one host hammering one lock on a real PostgreSQL server, half on
// warm sessions and half connecting for every attempt. Their O_APPEND journal must show one holder
// at a time, tokens strictly increasing from holder to holder, and every refusal naming, with this
// host's name, a process that was in the middle of an attempt at some moment during the refused
// attempt: its session held the lock then. (Not necessarily an attempt that ended holding: when a
// wait's lock_timeout comes as the lock is granted, PostgreSQL leaves it granted and reports the
// timeout, and the session gives it back at once; for that moment it is the holder.)
import os from 'node:os';
import path from 'node:path';
import { PostgresServer } from '../test/fixtures/postgres-server.mjs';
import { check, child, here, readJournal, scratch } from './lib.mjs';

/** Checks the journal's story (see above). Pure. */
export function checkFleetJournal(lines, host) {
  let inside = null;
  let lastToken = -1n;
  let enters = 0;
  let refusals = 0;
  /** Per process: the line of its current attempt's "try". */
  const attempts = new Map();
  /** Per process, its attempts: [try line, done line or Infinity]. */
  const holds = new Map();
  const refused = [];
  for (const [index, line] of lines.entries()) {
    const [what, pid, ...rest] = line.split(' ');
    const where = `line ${index + 1} (${line})`;
    if (what === 'try') {
      attempts.set(pid, { from: index });
    } else if (what === 'enter') {
      check(inside === null, `${where}: entered while ${inside} held the lock`);
      const token = BigInt(rest[0]);
      check(token > lastToken, `${where}: token ${token} after ${lastToken}`);
      lastToken = token;
      inside = pid;
      enters += 1;
    } else if (what === 'leave') {
      check(inside === pid, `${where}: left while ${inside} held the lock`);
      inside = null;
    } else if (what === 'refused') {
      refusals += 1;
      refused.push({ index, pid, named: rest[0], namedHost: rest.slice(1).join(' '), from: attempts.get(pid).from });
    } else if (what === 'done') {
      const attempt = attempts.get(pid);
      holds.set(pid, [...(holds.get(pid) ?? []), [attempt.from, index]]);
      attempts.delete(pid);
    }
  }
  for (const [pid, attempt] of attempts) holds.set(pid, [...(holds.get(pid) ?? []), [attempt.from, Infinity]]);
  for (const { index, pid, named, namedHost, from } of refused) {
    const where = `line ${index + 1}: ${pid} refused`;
    check(namedHost === host, `${where} naming host ${namedHost}, not ${host}`);
    // The server saw the holder between this attempt's try and its refusal; the holder's own
    // attempt spans its session's hold, from its try to its done.
    const overlapping = (holds.get(named) ?? []).some(([start, end]) => start < index && end > from);
    check(overlapping, `${where} naming ${named}, which was not even trying during the attempt`);
  }
  return { enters, refusals, lastToken: lastToken.toString() };
}

export async function fleetStorm({ processes, rounds }) {
  const { dir, cleanup } = scratch('fleet-storm');
  const server = await PostgresServer.start();
  const journalFile = path.join(dir, 'journal');
  try {
    const workers = Array.from({ length: processes }, (_, i) =>
      child(path.join(here, 'fleet-worker.mjs'), [server.url(), 'storm', journalFile, String(rounds), i % 2 === 0 ? 'warm' : 'cold']));
    for (const worker of workers) check((await worker.next()) === 'ready', 'a worker did not start');
    for (const worker of workers) worker.proc.stdin.end('go\n');
    const results = await Promise.all(workers.map(async (worker) => {
      const line = await worker.next();
      check(line.startsWith('{'), `a worker failed: ${line}`);
      return JSON.parse(line);
    }));
    const statuses = await Promise.all(workers.map((worker) => worker.exited));
    check(statuses.every(({ code }) => code === 0), `a worker failed: ${JSON.stringify(statuses)}`);
    const lines = readJournal(journalFile);
    const story = checkFleetJournal(lines, os.hostname());
    check(story.enters === results.reduce((sum, { held }) => sum + held, 0), 'the journal and the workers disagree on the holds');
    check(story.enters > 0, 'nobody ever held the lock');
    check(server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") === '0', 'a lock was left on the server');
    return { attempts: processes * rounds, ...story };
  } finally {
    server.destroy();
    cleanup();
  }
}
