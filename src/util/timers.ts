// A timeout of any length: Node's own timers fire at once (with a TimeoutOverflowWarning) when
// asked for 2^31 ms (24.8 days) or more, which would end a 30-day wait on the spot.

/** Node's longest single timer, in ms. */
export const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** Calls `callback` once `ms` have passed (any finite length), unless the returned function is called first. */
export function setLongTimeout(callback: () => void, ms: number): () => void {
  const deadline = performance.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = Math.max(0, deadline - performance.now());
    timer = left > LONGEST_TIMER_MS ? setTimeout(arm, LONGEST_TIMER_MS) : setTimeout(callback, left);
  };
  arm();
  return () => clearTimeout(timer);
}
