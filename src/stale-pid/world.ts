// What the stale-PID fallback asks of the world other than the file system: which process it is,
// the clocks, and the process table. The real world by default; a test scheduler gives each of
// several in-process instances a world of its own, so that they stand for separate processes
// whose clocks, deaths and start times it decides (torture/interleavings.mjs).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { readProcessFacts, type ProcessFacts } from '../process/info';
import { binding, type Binding } from '../addon/binding';
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
  /**
   * Registers a hold of this process on `file` (taken, or being taken) where every thread of the
   * process can see it; returns what takes it off again. A PID file names the process, not the
   * thread: a file naming this process is held only while some hold on it is registered.
   */
  hold(file: string): () => void;
  /** How many holds this process's threads have registered on `file`. */
  holdsOn(file: string): number;
}

/** Holds where the addon cannot keep them for every thread: this thread's own, by path. */
const localHolds = new Map<string, number>();

function addonHolds(): Binding | null {
  try {
    return binding();
  } catch {
    return null; // mode pidfile without the addon: the holds of this thread alone
  }
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
  hold(file) {
    const native = addonHolds();
    if (native !== null) {
      const hold = native.softHold(file);
      return () => native.softRelease(hold);
    }
    localHolds.set(file, (localHolds.get(file) ?? 0) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (localHolds.get(file) ?? 1) - 1;
      if (left === 0) localHolds.delete(file);
      else localHolds.set(file, left);
    };
  },
  holdsOn(file) {
    const native = addonHolds();
    return native === null ? (localHolds.get(file) ?? 0) : native.softHeld(file);
  },
};
