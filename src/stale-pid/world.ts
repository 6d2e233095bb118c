// What the stale-PID fallback asks of the world other than the file system: which process it is,
// the clocks, and the process table. The real world by default; a test scheduler gives each of
// several in-process instances a world of its own, so that they stand for separate processes
// whose clocks, deaths and start times it decides (torture/interleavings.mjs).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { readProcessFacts, type ProcessFacts } from '../process/info';
import { currentCredentials, type Credentials } from '../file/trust';

export interface World {
  /** This process's PID: the one written in its PID file, drafts and claims. */
  readonly pid: number;
  /** This host's name, in the names of drafts: a shared directory may serve several hosts. */
  hostname(): string;
  /** The wall clock, as Date.now(): compared with file times and process start times. */
  now(): number;
  /** A monotonic clock, as performance.now(): for waits. */
  monotonic(): number;
  /** Whether process `pid` exists (a zombie does not) and when it started. */
  processFacts(pid: number): ProcessFacts;
  /** The effective user and group, where the platform has them. */
  credentials(): Credentials | null;
  /** Unpredictable characters for the names of drafts and tombstones, safe in a file name. */
  randomName(): string;
  /** The last clock offset measured in each directory (file system's clock less ours). */
  readonly clockOffsets: Map<string, number>;
}

/** This process, its clocks and the platform's process table. */
export const realWorld: World = {
  pid: process.pid,
  hostname: () => os.hostname(),
  now: () => Date.now(),
  monotonic: () => performance.now(),
  processFacts: readProcessFacts,
  credentials: currentCredentials,
  randomName: () => randomBytes(8).toString('hex'),
  clockOffsets: new Map(),
};
