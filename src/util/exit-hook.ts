// The process's exit hook: one cleanup run when the process ends, also on SIGINT, SIGTERM and
// SIGHUP (signal-exit), which a wait that blocks the thread takes off for its length.

let cleanup: (() => void) | null = null;
/** Takes signal-exit's hook off again, while it is on. */
let unhook: (() => void) | null = null;

// signal-exit runs the cleanup on normal exit and on SIGINT, SIGTERM and SIGHUP, then lets the
// signal do what it would have done (or leaves it to the application's own listeners, if any).
// It is hooked when the first lock is taken and stays hooked: hooking and unhooking around every
// lock costs some 70 signal-mask and signal-handler system calls, more than the lock itself.
// signal-exit is loaded then too, not at require(): it is a third of pidguard's load time.
function hook(run: () => void): void {
  unhook = (require('signal-exit') as typeof import('signal-exit')).onExit(run);
}

/** Runs `run` when the process ends, from now on; a second call changes nothing. */
export function onProcessExit(run: () => void): void {
  if (cleanup !== null) return;
  cleanup = run;
  hook(run);
  // signal-exit hears of a normal exit by wrapping process.emit, but Bun emits the 'exit' of an
  // event loop that ran dry without calling process.emit, so only its own listeners hear it: one
  // of ours too. Where both are told (Node), the cleanup's second run finds nothing left to do.
  process.on('exit', run);
}

/**
 * Runs `wait`, which blocks this thread (a Sync wait), with the exit hook taken off meanwhile.
 * Hooked, a SIGTERM or SIGINT would only be queued for the event loop, which a blocked thread
 * never runs: the process would carry on, and if it then ended without turning the loop again,
 * the signal would be lost altogether. Unhooked, the signal does what it would do without
 * pidguard: the process ends, the kernel frees its locks, and its PID files are left as after a
 * SIGKILL, for the next start to take over. Hooked again afterwards (some 70 system calls; only a
 * wait that blocks pays them).
 */
export function withoutExitHook<T>(wait: () => T): T {
  if (unhook === null || cleanup === null) return wait();
  const run = cleanup;
  unhook();
  unhook = null;
  try {
    return wait();
  } finally {
    hook(run);
  }
}
