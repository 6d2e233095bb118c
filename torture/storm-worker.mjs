// One of the processes of the storm: on "go", one attempt at the lock; the outcome goes to the
// journal (enter, or the PID the refusal named) and to stdout; on "release", leave and release.
import fs from 'node:fs';
import readline from 'node:readline';
import { acquireSync } from 'pidguard';

const [file, journalFile] = process.argv.slice(2);
const journal = fs.openSync(journalFile, 'a');
const record = (line) => fs.writeSync(journal, `${line}\n`);
let lock = null;
readline.createInterface({ input: process.stdin }).on('line', (command) => {
  if (command === 'go') {
    try {
      lock = acquireSync(file);
    } catch (error) {
      if (error.code !== 'ELOCKED') {
        process.stdout.write(`error ${error.code}: ${error.message}\n`);
        return;
      }
      record(`refused ${process.pid} ${error.pid}`);
      process.stdout.write('lost\n');
      return;
    }
    record(`enter ${process.pid}`);
    process.stdout.write('won\n');
  } else if (command === 'release') {
    record(`leave ${process.pid}`);
    lock.release();
    lock = null;
    process.stdout.write('released\n');
  }
});
process.stdout.write('ready\n');
