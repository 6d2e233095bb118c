// SIGKILL at each step of acquire and release: the addon's failpoints (PIDGUARD_FAILPOINT) stop
// a holder right after its open, right after its lock, between truncating and writing its PID,
// before its unlink and before its unlock; it is SIGKILLed there. The next start must succeed at
// once, and a reader looking all along must never have seen anything but an empty file or a
// whole PID. Kernel mode: the failpoints are in the addon.
import fs from 'node:fs';
import path from 'node:path';
import { acquireSync, readPid } from 'pidguard';
import { check, child, here, scratch, stopped } from './lib.mjs';

export const STEPS = ['after-open', 'after-lock', 'before-write', 'before-unlink', 'before-unlock'];

export async function killAtEachStep({ repeats }) {
  const { dir, cleanup } = scratch('steps');
  const contentsSeen = new Set();
  let kills = 0;
  try {
    for (const step of STEPS) {
      for (let round = 0; round < repeats; round += 1) {
        const file = path.join(dir, `${step}-${round}.pid`);
        const stopFile = `${file}.stop`;
        // A PID left by an earlier holder, so that the victim truncates before it writes.
        fs.writeFileSync(file, '2147483646\n');
        const reader = child(path.join(here, 'reader.mjs'), [file, stopFile]);
        check((await reader.next()) === 'ready', 'the reader did not start');
        const victim = child(path.join(here, 'steps-victim.mjs'), [file], { PIDGUARD_MODE: 'kernel', PIDGUARD_FAILPOINT: step });
        await stopped(victim.pid);
        victim.kill();
        await victim.exited;
        kills += 1;
        const next = acquireSync(file, { mode: 'kernel' });
        check(readPid(file) === process.pid, `${step}: the next start did not record its PID`);
        next.release();
        fs.writeFileSync(stopFile, '');
        for (const text of JSON.parse(await reader.next())) contentsSeen.add(text);
        await reader.exited;
      }
    }
    for (const text of contentsSeen) {
      check(text === '' || /^[1-9]\d*\n$/.test(text), `a reader saw a partial PID: ${JSON.stringify(text)}`);
    }
    return { kills, steps: STEPS.length, contentsSeen: contentsSeen.size };
  } finally {
    cleanup();
  }
}
