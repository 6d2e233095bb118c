// Which lock mode this run of a suite tests, and how to tell from outside pidguard whether the lock
// is free in that mode. `npm test` (test/run.mjs) runs the mode-neutral suites once per mode.
import fs from 'node:fs';
import { flockCanTake } from './helpers.mjs';

/** The mode under test: PIDGUARD_MODE=pidfile for the stale-PID fallback, else the kernel lock. */
export const mode = process.env.PIDGUARD_MODE === 'pidfile' ? 'pidfile' : 'kernel';

function processExists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Whether another process could take the lock on `file` now, by evidence pidguard does not give:
 * flock(1) for the kernel lock (which creates the file if it is missing); for the fallback, a
 * file holding the PID of a running process (the tests' processes are all younger than their
 * files, so the start-time rule adds nothing here).
 */
export function lockIsFree(file) {
  if (mode === 'kernel') return flockCanTake(file);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return true;
    throw error;
  }
  return !(/^[1-9]\d*\n$/.test(text) && processExists(Number(text)));
}
