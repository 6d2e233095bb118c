// Every torture scenario, with its full size; `npm run torture` runs them all, in both modes where
// both apply, and `npm test` runs them small (test/torture.test.mjs).
import { skipReason as postgresSkipReason } from '../test/fixtures/postgres-server.mjs';
import { children } from './children.mjs';
import { churn } from './churn.mjs';
import { fleetPartition, partitionSkipReason } from './fleet-partition.mjs';
import { fleetStorm } from './fleet-storm.mjs';
import { hostile } from './hostile.mjs';
import { resources } from './resources.mjs';
import { reuse } from './reuse.mjs';
import { killAtEachStep } from './steps.mjs';
import { storm } from './storm.mjs';
import { wrapperSignals } from './wrapper-signals.mjs';

const BOTH = ['kernel', 'pidfile'];

/** name, modes, the full size (and one for mode 'pidfile' where it differs), a short size for npm test, and the run. */
export const scenarios = [
  { name: 'storm with random SIGKILLs', modes: BOTH, full: { workers: 32, rounds: 300 }, short: { workers: 8, rounds: 15 }, run: storm },
  // The fallback spins through files and a guard on every attempt: a fifth of the holds fits
  // the same time.
  { name: 'unlink race: processes looping acquire/release', modes: BOTH, full: { processes: 16, holds: 1000 }, fullPidfile: { processes: 16, holds: 200 }, short: { processes: 8, holds: 40 }, run: churn },
  { name: 'SIGKILL at each step of acquire and release', modes: ['kernel'], full: { repeats: 10 }, short: { repeats: 1 }, run: killAtEachStep },
  { name: 'children forked while the lock is taken and released', modes: BOTH, full: { cycles: 3000 }, short: { cycles: 200 }, run: children },
  { name: 'hostile PID file contents', modes: BOTH, full: { files: 3000 }, short: { files: 150 }, run: hostile },
  { name: 'resources over many cycles', modes: BOTH, full: { cycles: 20_000 }, short: { cycles: 2000 }, run: resources },
  // A cycle is one round per kind: the 20 signals passed on, SIGKILL, SIGSEGV, two real-time
  // signals and an uncaught error (25); the short run takes the first 6 (KILL, RTMIN+3, an
  // uncaught error, ALRM, PWR, ABRT).
  { name: 'pidguard run struck by every signal while contenders try', modes: BOTH, full: { cycles: 6, contenders: 3, kinds: 25 }, short: { cycles: 1, contenders: 1, kinds: 6 }, run: wrapperSignals },
  { name: 'stale PIDs reused while holders come and go: stop signals only holders', modes: ['kernel'], full: { rounds: 140 }, short: { rounds: 14 }, run: reuse },
  // pidguard/postgres on a real server (skip: why it cannot run here, or false).
  { name: 'fleet storm: processes hammering one lock on PostgreSQL', modes: ['postgres'], full: { processes: 16, rounds: 300 }, short: { processes: 8, rounds: 20 }, run: fleetStorm, skip: postgresSkipReason },
  // The default health check in full (about 5 s a round); a quick one in npm test.
  { name: 'fleet partitions: lost strictly before freed', modes: ['postgres'], full: { repeats: 10 }, short: { repeats: 1, quick: 1 }, run: fleetPartition, skip: partitionSkipReason },
];

/**
 * The size to run: `short`, `full`, or a number scaling the full size (TORTURE_SCALE=0.5 halves
 * every count; workers and processes are never scaled below 2).
 */
export function sizeFor(scenario, scale, mode) {
  if (scale === 'short') return scenario.short;
  const full = (mode === 'pidfile' && scenario.fullPidfile) || scenario.full;
  if (scale === 'full') return full;
  const factor = Number(scale);
  if (!(factor > 0)) throw new Error(`TORTURE_SCALE must be short, full or a positive number, got ${scale}`);
  return Object.fromEntries(Object.entries(full).map(([key, value]) => [key, Math.max(2, Math.round(value * factor))]));
}
