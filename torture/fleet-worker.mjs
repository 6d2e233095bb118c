// One of the processes of the fleet storm: on "go", `rounds` attempts at one lock on PostgreSQL,
// each recorded in the O_APPEND journal: "try", then "enter <token>" and "leave" around a hold,
// or "refused <pid> <host>" naming the holder the server reported; "done" after each attempt
// (after the release, for a hold). A warm worker keeps one session; a cold one connects for
// every attempt. Usage: fleet-worker.mjs <connection> <name> <journal> <rounds> warm|cold
import fs from 'node:fs';
import readline from 'node:readline';
import { acquire, connect } from 'pidguard/postgres';

const [connection, name, journalFile, roundsText, kind] = process.argv.slice(2);
const rounds = Number(roundsText);
const journal = fs.openSync(journalFile, 'a');
const record = (line) => fs.writeSync(journal, `${line}\n`);
const session = kind === 'warm' ? await connect({ connection }) : null;
const take = (options) => (session === null ? acquire(name, { connection, ...options }) : session.acquire(name, options));

const input = readline.createInterface({ input: process.stdin });
process.stdout.write('ready\n');
input.once('line', async () => {
  input.close();
  let held = 0;
  let refused = 0;
  for (let round = 0; round < rounds; round += 1) {
    record(`try ${process.pid}`);
    try {
      // Mostly one attempt; now and then a short wait in the server's queue.
      const lock = await take({ wait: round % 5 === 0 ? 20 : false });
      record(`enter ${process.pid} ${lock.token}`);
      held += 1;
      record(`leave ${process.pid}`);
      await lock.release();
    } catch (error) {
      if (error.code !== 'ELOCKED') {
        process.stdout.write(`error ${error.code}: ${error.message}\n`);
        process.exit(1);
      }
      record(`refused ${process.pid} ${error.pid} ${error.host}`);
      refused += 1;
    }
    record(`done ${process.pid}`);
  }
  await session?.close();
  process.stdout.write(`${JSON.stringify({ held, refused })}\n`);
});
