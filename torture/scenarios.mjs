// Every torture scenario, with its full size; `npm run torture` runs them all, in both modes where
// both apply, and `npm test` runs them small (test/torture.test.mjs).
import { skipReason as postgresSkipReason } from '../test/fixtures/postgres-server.mjs';
import { children } from './children.mjs';
import { churn } from './churn.mjs';
import { fleetPartition, partitionSkipReason } from './fleet-partition.mjs';
import { fleetStorm } from './fleet-storm.mjs';
import { fuseChurn } from './fuse-churn.mjs';
import { hostile } from './hostile.mjs';
import { interleavings } from './interleavings.mjs';
import { planted } from './planted.mjs';
import { resources } from './resources.mjs';
import { reuse } from './reuse.mjs';
import { stalledTaker } from './stalled-taker.mjs';
import { killAtEachStep } from './steps.mjs';
import { storm } from './storm.mjs';
import { wrapperSignals } from './wrapper-signals.mjs';

const BOTH = ['kernel', 'pidfile'];

/** The checks of the fallback's interleavings: npm test's (about 20 s on 2 cores), and the larger set of npm run torture. */
const SHORT_CHECKS = [
  { scenario: 'two start on a free path', crashes: 1 },
  { scenario: 'a holder, and a newcomer that waits', crashes: 1 },
  { scenario: 'a holder whose recorded PID dies, and a newcomer', crashes: 1 },
  { scenario: 'two find a stale file', crashes: 0 },
  { scenario: 'a holder whose recorded PID dies, a taker and a newcomer', crashes: 0 },
];
const FULL_CHECKS = [
  ...SHORT_CHECKS.filter((check) => check.scenario !== 'two find a stale file'),
  { scenario: 'two find a stale file', crashes: 1 },
  { scenario: 'three start on a free path', crashes: 0 },
  // Too many to finish (over 150,000 without a crash): the first 50,000 explored.
  { scenario: 'three find a stale file', crashes: 0, maxRuns: 50_000 },
];

/** name, modes, the full size (and one for mode 'pidfile' where it differs), a short size for npm test, and the run. */
export const scenarios = [
  { name: 'storm with random SIGKILLs', modes: BOTH, full: { workers: 32, rounds: 300 }, short: { workers: 8, rounds: 15 }, run: storm },
  // The fallback goes through files (a draft, and claims) on every attempt: a fifth of the
  // holds fits the same time.
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
  // The fallback's protocol, exhaustively: every interleaving of 2 or 3 instances' steps (up to
  // the order of independent ones), with a crash at any point where `crashes` is 1. Sizes are
  // lists of checks, not counts: TORTURE_SCALE=<factor> leaves them as they are.
  { name: "every interleaving of the fallback's steps", modes: ['pidfile'], full: { checks: FULL_CHECKS }, short: { checks: SHORT_CHECKS }, run: interleavings },
  { name: 'stalled taker: a holder whose recorded PID died, a taker slowed by strace, a newcomer', modes: ['pidfile'],
    full: { rounds: 3, delayMs: 1500 }, short: { rounds: 1, delayMs: 1500 }, run: stalledTaker },
  { name: 'names planted by another user in a sticky directory', modes: ['pidfile'], full: { processes: 16, rounds: 20 }, short: { processes: 8, rounds: 3 }, run: planted },
  { name: 'churn with failOpen on a file system without locks (FUSE), with and without hard links', modes: ['pidfile'],
    full: { processes: 12, holds: 150 }, short: { processes: 6, holds: 25 }, run: fuseChurn },
];

/**
 * The size to run: `short`, `full`, or a number scaling the full size (TORTURE_SCALE=0.5 halves
 * every count; workers and processes are never scaled below 2).
 */
export function sizeFor(scenario, scale, mode) {
  if (scale === 'short') return scenario.short;
  const full = (mode === 'pidfile' && scenario.fullPidfile) || scenario.full;
  if (scale === 'full') return full;
  if (full.checks !== undefined) return full;
  const factor = Number(scale);
  if (!(factor > 0)) throw new Error(`TORTURE_SCALE must be short, full or a positive number, got ${scale}`);
  return Object.fromEntries(Object.entries(full).map(([key, value]) => [key, Math.max(2, Math.round(value * factor))]));
}
