// One of the processes of the FUSE churn: loops acquireSync with failOpen (mode from
// PIDGUARD_MODE, 'auto' by default) and release on one PID file, `holds` times. Each hold appends
// "enter <pid>" and "leave <pid>" to an O_APPEND journal, "foreign <pid>" if the file does not
// name it meanwhile, and each handle that holds nothing (failOpen forgiving an error)
// "unlocked <pid> <warning>". Usage: failopen-churner.mjs <pidfile> <journal> <holds>; starts on
// a line on stdin, prints {"held","refused"} at the end.
import fs from 'node:fs';
import readline from 'node:readline';
import { acquireSync, readPid } from 'pidguard';

const [file, journal, holdsText] = process.argv.slice(2);
const holds = Number(holdsText);
const out = fs.openSync(journal, 'a');
const record = (line) => fs.writeSync(out, `${line}\n`);
let warning = '';
const logger = { debug() {}, info() {}, warn: (message) => (warning = message), error() {} };

const input = readline.createInterface({ input: process.stdin });
process.stdout.write('ready\n');
input.once('line', () => {
  input.close();
  let held = 0;
  let refused = 0;
  while (held < holds) {
    let lock;
    try {
      lock = acquireSync(file, { failOpen: true, logger });
    } catch (error) {
      if (error.code !== 'ELOCKED') throw error;
      refused += 1;
      continue;
    }
    if (!lock.held) {
      record(`unlocked ${process.pid} ${warning}`);
      held += 1;
      continue;
    }
    record(`enter ${process.pid}`);
    if (readPid(file) !== process.pid) record(`foreign ${process.pid}`);
    record(`leave ${process.pid}`);
    lock.release();
    held += 1;
  }
  process.stdout.write(`${JSON.stringify({ held, refused })}\n`);
});
