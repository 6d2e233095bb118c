// Every interleaving of a few processes' steps, up to the order of independent steps: stateless
// dynamic partial-order reduction with sleep sets (Flanagan and Godefroid, POPL 2005). Each run
// starts a fresh system and replays a prefix of choices, then goes on with a process that can
// step; after each step, every race it left (a process's next step dependent on an earlier step
// of another that nothing orders before it) adds the other order to the choices still to try.
// Two steps are independent when neither writes what the other reads or writes; one order then
// stands for both, and the sleep sets keep the same order from being explored twice.
//
// A system (made anew by `create` for each run) has:
//   enabled(): the indices of the processes that have a step to take
//   footprint(i): { reads: Set, writes: Set, readsAll: boolean, label } of process i's next step,
//     as much as it may touch
//   step(i): takes it; may return the footprint of what it did touch, which is then used instead
//   check(): after every step, a violated invariant as a string, or null
//   finish(): at the end of a run, the same
//   dispose(): frees what the run used
// It must be deterministic: the same choices give the same steps (the replay checks the labels).

/**
 * Whether a step that writes `name` conflicts with one that touches `names`. A name ending in ':*'
 * read stands for every name with that stem (a step not yet taken may ask about any PID).
 */
function touches(names, name) {
  if (names.has(name)) return true;
  const colon = name.indexOf(':');
  return colon !== -1 && names.has(`${name.slice(0, colon)}:*`);
}

export function dependent(a, b) {
  if (a.readsAll && b.writes.size > 0) return true;
  if (b.readsAll && a.writes.size > 0) return true;
  for (const name of a.writes) if (touches(b.writes, name) || touches(b.reads, name)) return true;
  for (const name of b.writes) if (touches(a.reads, name)) return true;
  return false;
}

/** The index of each process's last step that happens before a point, -1 for none. */
const merge = (into, from) => {
  for (let i = 0; i < from.length; i += 1) if ((into[i] ?? -1) < from[i]) into[i] = from[i];
};

/**
 * Explores every interleaving of the systems `create` makes. Stops at the first violation, or
 * after `maxRuns` runs (then `complete` is false). Returns { runs, blocked, steps, longest,
 * complete, violation: null | { message, trace } }; `blocked` counts runs cut short because every
 * process left was asleep (its order covered by another run).
 */
export function explore(create, { maxRuns = Infinity, maxDepth = 2000 } = {}) {
  /** One frame per state of the current run. */
  const frames = [];
  let prefix = [];
  let runs = 0;
  let blocked = 0;
  let steps = 0;
  let longest = 0;
  for (;;) {
    const system = create();
    const trace = []; // { proc, fp, clock }
    const procClock = []; // proc -> vector clock of its last step
    let violation = null;
    let sleepNext = new Map();
    let wasBlocked = false;
    try {
      for (let depth = 0; ; depth += 1) {
        const enabled = system.enabled();
        if (enabled.length === 0) break;
        if (depth >= maxDepth) throw new Error(`a run went past ${maxDepth} steps: ${trace.slice(-20).map((t) => t.fp.label).join(' | ')}`);
        let frame;
        if (depth < frames.length) {
          frame = frames[depth];
          const choice = prefix[depth];
          if (system.footprint(choice).label !== frame.fps.get(choice).label) {
            throw new Error(`replay diverged at step ${depth}: ${system.footprint(choice).label} where ${frame.fps.get(choice).label} was`);
          }
        } else {
          const fps = new Map(enabled.map((proc) => [proc, system.footprint(proc)]));
          // A new state: each process's next step may race with an earlier step of another.
          for (const proc of enabled) {
            const next = fps.get(proc);
            const known = procClock[proc] ?? [];
            for (let i = trace.length - 1; i >= 0; i -= 1) {
              const earlier = trace[i];
              if (earlier.proc === proc || !dependent(earlier.fp, next)) continue;
              if ((known[earlier.proc] ?? -1) >= i) continue; // ordered already
              const at = frames[i];
              if (at.enabled.includes(proc)) at.backtrack.add(proc);
              else for (const other of at.enabled) at.backtrack.add(other);
              break;
            }
          }
          const awake = enabled.filter((proc) => !sleepNext.has(proc));
          if (awake.length === 0) {
            wasBlocked = true;
            break;
          }
          // Go on with the process that took the last step, if it can: fewer switches first.
          const last = trace.at(-1)?.proc;
          const choice = awake.includes(last) ? last : awake[0];
          frame = { enabled, fps, sleep: sleepNext, backtrack: new Set([choice]), done: new Set() };
          frames[depth] = frame;
          prefix[depth] = choice;
        }
        const choice = prefix[depth];
        const fp = frame.fps.get(choice);
        // Asleep after this step: what was asleep here, and what was tried here before, if independent of it.
        if (depth + 1 >= frames.length) {
          sleepNext = new Map();
          for (const [proc, other] of [...frame.sleep, ...[...frame.done].map((proc) => [proc, frame.fps.get(proc)])]) {
            if (proc !== choice && !dependent(other, fp)) sleepNext.set(proc, other);
          }
        }
        frame.done.add(choice);
        const clock = [...(procClock[choice] ?? [])];
        for (const earlier of trace) if (earlier.proc !== choice && dependent(earlier.fp, fp)) merge(clock, earlier.clock);
        clock[choice] = trace.length;
        procClock[choice] = clock;
        trace.push({ proc: choice, fp, clock });
        system.step(choice);
        steps += 1;
        violation = system.check();
        if (violation !== null) break;
      }
      if (violation === null && !wasBlocked) violation = system.finish();
    } finally {
      system.dispose();
    }
    runs += 1;
    if (wasBlocked) blocked += 1;
    longest = Math.max(longest, trace.length);
    if (violation !== null) {
      return { runs, blocked, steps, longest, complete: false, violation: { message: violation, trace: trace.map((t) => `${t.proc}: ${t.fp.label}`) } };
    }
    // The deepest state with a process still to try there.
    let depth = trace.length - 1;
    for (; depth >= 0; depth -= 1) {
      const frame = frames[depth];
      const todo = [...frame.backtrack].find((proc) => !frame.done.has(proc) && !frame.sleep.has(proc));
      if (todo !== undefined) {
        prefix = [...prefix.slice(0, depth), todo];
        frames.length = depth + 1;
        break;
      }
    }
    if (depth < 0) return { runs, blocked, steps, longest, complete: true, violation: null };
    if (runs >= maxRuns) return { runs, blocked, steps, longest, complete: false, violation: null };
  }
}
