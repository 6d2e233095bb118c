// Running one algorithm both synchronously and asynchronously: the algorithm is a generator that
// yields the milliseconds it wants to pause for, and each driver pauses its own way.
import { setTimeout as delay } from 'node:timers/promises';

export type Steps<T> = Generator<number, T, void>;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Pauses by blocking the thread, as a synchronous API must. */
export function runSync<T>(steps: Steps<T>): T {
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done === true) return step.value;
    Atomics.wait(sleeper, 0, 0, step.value);
  }
}

/** Pauses with timers, leaving the event loop free. */
export async function runAsync<T>(steps: Steps<T>): Promise<T> {
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done === true) return step.value;
    await delay(step.value);
  }
}
