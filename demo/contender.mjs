// One copy of a service starting up. `naive`: the common PID-file singleton (read the file, check
// the PID, write our own). `pidguard`: acquireSync. Waits for "go" on stdin so that every copy
// starts at the same instant, then reports one JSON line and, if it started, keeps running.
import fs from 'node:fs';
import { acquireSync } from 'pidguard';

const [style, file] = process.argv.slice(2);

function naiveStart() {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8'));
    process.kill(pid, 0); // throws when no such process
    return { started: false, told: `already running as PID ${pid}` };
  } catch {
    fs.writeFileSync(file, `${process.pid}\n`);
    return { started: true };
  }
}

function pidguardStart() {
  try {
    acquireSync(file);
    return { started: true };
  } catch (error) {
    if (error.code !== 'ELOCKED') throw error;
    return { started: false, told: error.message };
  }
}

// The barrier: block in a plain read of stdin, so that every copy wakes the moment "go" arrives.
process.stdout.write('ready\n');
fs.readSync(0, Buffer.alloc(3));
const outcome = style === 'naive' ? naiveStart() : pidguardStart();
process.stdout.write(`${JSON.stringify({ pid: process.pid, ...outcome })}\n`);
if (outcome.started) process.stdin.once('data', () => process.exit(0)); // runs until told to stop
