// Running one algorithm both synchronously and asynchronously: the algorithm is a generator that
// yields the milliseconds it wants to pause for, and each driver pauses its own way. It also
// yields a marker before each file-system call it makes (the stale-PID fallback does): the
// drivers here pass straight through those, and a test scheduler can pause the algorithm there,
// which is how torture/interleavings.mjs runs several instances through every order of their steps.
import { setTimeout as delay } from 'node:timers/promises';

/** The file-system calls the fallback makes, each announced by a marker before it is made. */
export type FsOp = 'read' | 'lstat' | 'create' | 'link' | 'rename' | 'unlink' | 'readdir';

/** The marker of a file-system call about to be made: on `path`, and for link and rename, to `to`. */
export interface FsStep {
  readonly op: FsOp;
  readonly path: string;
  readonly to?: string;
}

/** A pause of that many milliseconds, or a file-system call about to be made. */
export type Step = number | FsStep;

export type Steps<T> = Generator<Step, T, void>;

export function fsStep(op: FsOp, path: string, to?: string): FsStep {
  return to === undefined ? { op, path } : { op, path, to };
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Pauses by blocking the thread, as a synchronous API must. */
export function runSync<T>(steps: Steps<T>): T {
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done === true) return step.value;
    if (typeof step.value === 'number') Atomics.wait(sleeper, 0, 0, step.value);
  }
}

/** Pauses with timers, leaving the event loop free. */
export async function runAsync<T>(steps: Steps<T>): Promise<T> {
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done === true) return step.value;
    if (typeof step.value === 'number') await delay(step.value);
  }
}
