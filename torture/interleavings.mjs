// The stale-PID fallback's protocol checked exhaustively. Two or three instances of it run in this
// process, each standing for a process with a World of its own (its PID, its clock, a process
// table the checker keeps), through every interleaving of their file-system steps
// (torture/explore.mjs), on a real directory, fresh for each run, and with a crash (the instance
// dropped where it stands, its PID marked dead) as a step that may come at any point of any
// instance. After every step: at most one instance believes it holds the lock (acquire returned,
// release not begun, and the PID its file records alive), and every believer's verify() is true.
// After every run: no error but ELOCKED, nothing of an instance that did not crash left in the
// directory, and, every instance's process having ended, a fresh instance takes the lock at once
// (a crashed holder's file is taken over) unless the file names a live process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { explore } from './explore.mjs';

const { takeStalePid } = await import(new URL('../dist/stale-pid/lock.js', import.meta.url));

/** How far an instance's clock moves at each pause, besides the pause: past every wait and grace, so that one retry ends any wait. */
const PAUSE_MS = 20_000;
const FILE = 'app.pid';
const DEAD_PID = 99;
const HOST = 'checker';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A name in the run's directory, the same in every run: digits (inodes, times, PIDs) aside. */
const normalise = (name) => name.replace(/\d+/g, '#');

/**
 * What a step may touch, for the explorer's independence: names in the directory; '#proc:<pid>',
 * the process table's entry for a PID ('#proc:*' for any); '#alive:<i>', instance i not crashed;
 * '#belief', what the instances believe; '#crash', the crash not yet spent.
 */
function footprintOf(step, dir) {
  const reads = new Set();
  const writes = new Set();
  let readsAll = false;
  const name = (p) => path.relative(dir, p);
  if (typeof step === 'number') return { reads, writes, readsAll, label: 'pause' };
  switch (step.op) {
    case 'read':
      reads.add(name(step.path)).add('#proc:*');
      break;
    case 'lstat':
      reads.add(name(step.path));
      break;
    case 'create':
    case 'unlink':
      writes.add(name(step.path));
      break;
    case 'link':
    case 'rename':
      writes.add(name(step.path)).add(name(step.to));
      break;
    case 'readdir':
      readsAll = true;
      reads.add('#proc:*');
      break;
    // The checker's own steps.
    case 'believe':
    case 'unbelieve':
      reads.add(FILE).add('#proc:*');
      writes.add('#belief');
      break;
    case 'die':
      writes.add(`#proc:${step.pid}`).add('#belief');
      break;
    default:
      throw new Error(`unknown step ${step.op}`);
  }
  const target = step.to === undefined ? '' : ` -> ${normalise(name(step.to))}`;
  const where = step.path === undefined ? '' : ` ${normalise(name(step.path))}`;
  return { reads, writes, readsAll, label: `${step.op}${where}${target}` };
}

function credentials() {
  return typeof process.geteuid === 'function' ? { uid: process.geteuid(), gid: process.getegid() } : null;
}

/** A World for an instance: its PID, a clock of its own, the shared process table, names drawn in order. */
function makeWorld(pid, table, startMs, onQuery) {
  let clock = 0;
  let names = 0;
  const holds = new Map();
  return {
    pid,
    pause(ms) {
      clock += ms + PAUSE_MS;
    },
    hostname: () => HOST,
    now: () => startMs + clock,
    monotonic: () => clock,
    processFacts(other) {
      onQuery(other);
      return table.get(other) ?? { exists: false, startedAtMs: null };
    },
    credentials,
    randomName: () => `r${(names += 1)}`,
    clockOffsets: new Map(),
    // An instance is a process of one thread: its holds are its own (a crash drops them with it).
    hold(file) {
      holds.set(file, (holds.get(file) ?? 0) + 1);
      let held = true;
      return () => {
        if (held) holds.set(file, holds.get(file) - 1);
        held = false;
      };
    },
    holdsOn: (file) => holds.get(file) ?? 0,
  };
}

/**
 * The script of one instance: acquire; as a holder, record a command's PID, which then dies (role
 * 'zombie'); release (unless `release` is false: it holds to the end). With `ready`, the acquire
 * and the recording are done before any other instance starts: only the rest is interleaved.
 */
function* script(inst, file, table) {
  let holding;
  const take = takeStalePid({ path: file, logger: silent, waitMs: inst.spec.wait ?? 0, signal: undefined, world: inst.world });
  try {
    holding = inst.spec.ready ? runThrough(take, inst.world) : yield* take;
  } catch (error) {
    inst.outcome = error;
    return;
  }
  inst.holding = holding;
  if (!inst.spec.ready) yield { op: 'believe' };
  inst.state = 'holding';
  if (inst.spec.role === 'zombie') {
    inst.state = 'recording'; // a holder still, but its verify() cannot be asked in the middle of recordPid()
    try {
      const record = holding.recordSteps(inst.commandPid);
      if (inst.spec.ready) runThrough(record, inst.world);
      else yield* record;
      inst.recorded = inst.commandPid;
    } catch (error) {
      inst.outcome = error;
    }
    inst.state = 'holding';
    yield { op: 'die', pid: inst.commandPid };
    table.set(inst.commandPid, { exists: false, startedAtMs: null }); // a zombie: ended, not reaped
  }
  if (inst.spec.release === false) return;
  yield { op: 'unbelieve' };
  inst.state = 'releasing';
  try {
    yield* holding.releaseSteps();
  } catch (error) {
    inst.outcome = error;
  }
  inst.state = 'released';
}

/** Runs steps to the end, a pause moving the clock only: the fresh instance has the directory to itself. */
function runThrough(steps, world) {
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done === true) return step.value;
    if (typeof step.value === 'number') world.pause(step.value);
  }
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

/** Who made a file beside the PID file: the PID in a private name, else the PID a claim holds. */
function maker(dir, name) {
  const marker = `.${HOST}.`;
  if (name.includes(marker)) return Number(name.slice(name.indexOf(marker) + marker.length).split('.')[0]);
  return Number(readText(path.join(dir, name)).trim());
}

/**
 * One run's system: a fresh directory, the instances, and the process table they share.
 * `instances`: [{ role: 'acquire' | 'zombie', wait }]; `stale`: a stale PID file there first;
 * `crashes`: how many crashes a run may have. Processes 0..n-1 are the instances; process n+i is
 * the crash of instance i.
 */
function makeSystem({ dir, stale, instances, crashes, onlyInvariants }) {
  fs.mkdirSync(dir);
  const file = path.join(dir, FILE);
  const startMs = Date.now();
  const table = new Map(); // pid -> { exists, startedAtMs }
  const count = instances.length;
  let crashesLeft = crashes;
  if (stale) fs.writeFileSync(file, `${DEAD_PID}\n`);

  const insts = instances.map((spec, index) => {
    const pid = 1001 + index;
    const commandPid = 2001 + index;
    table.set(pid, { exists: true, startedAtMs: startMs - 60_000 });
    if (spec.role === 'zombie') table.set(commandPid, { exists: true, startedAtMs: startMs - 60_000 });
    const inst = { index, pid, commandPid, spec, state: 'acquiring', holding: null, recorded: pid, outcome: null, crashed: false, queried: new Set() };
    inst.world = makeWorld(pid, table, startMs, (other) => inst.queried.add(other));
    inst.gen = script(inst, file, table);
    inst.pending = inst.gen.next();
    return inst;
  });

  const alive = (pid) => table.get(pid)?.exists === true;
  const running = (inst) => !inst.crashed && inst.pending.done !== true;

  return {
    enabled() {
      const procs = insts.filter(running).map((inst) => inst.index);
      if (crashesLeft > 0) for (const inst of insts) if (running(inst)) procs.push(count + inst.index);
      return procs;
    },
    footprint(proc) {
      if (proc >= count) {
        const inst = insts[proc - count];
        return {
          reads: new Set(['#crash']), writes: new Set([`#proc:${inst.pid}`, `#alive:${inst.index}`, '#belief', '#crash']), readsAll: false,
          label: `crash of ${inst.index}`,
        };
      }
      const inst = insts[proc];
      const fp = footprintOf(inst.pending.value, dir);
      fp.reads.add(`#alive:${proc}`);
      return fp;
    },
    step(proc) {
      if (proc >= count) {
        const inst = insts[proc - count];
        inst.crashed = true;
        crashesLeft -= 1;
        table.set(inst.pid, { exists: false, startedAtMs: null });
        return undefined;
      }
      const inst = insts[proc];
      const fp = this.footprint(proc);
      const marker = inst.pending.value;
      if (typeof marker === 'number') inst.world.pause(marker);
      inst.queried.clear();
      try {
        inst.pending = inst.gen.next();
      } catch (error) {
        inst.pending = { done: true, value: undefined };
        inst.outcome = error;
      }
      // What the step asked of the process table, rather than anything it might have.
      if (fp.reads.delete('#proc:*')) for (const pid of inst.queried) fp.reads.add(`#proc:${pid}`);
      return fp;
    },
    check() {
      // A holder: an instance that believes it holds, has not crashed, and whose recorded PID lives.
      const holders = insts.filter((inst) => (inst.state === 'holding' || inst.state === 'recording') && !inst.crashed && alive(inst.recorded));
      if (holders.length > 1) return `two holders: ${holders.map((h) => `instance ${h.index} (PID ${h.recorded})`).join(' and ')}`;
      for (const holder of holders) {
        if (holder.state === 'holding' && !holder.holding.verify()) {
          return `instance ${holder.index} believes it holds, but verify() is false: the file holds ${JSON.stringify(readText(file))}`;
        }
      }
      return null;
    },
    finish() {
      if (onlyInvariants) return null;
      for (const inst of insts) {
        const error = inst.outcome;
        if (error !== null && error.code !== 'ELOCKED') return `instance ${inst.index} failed: ${error.code ?? ''} ${error.message}`;
      }
      for (const name of fs.readdirSync(dir)) {
        const by = insts.find((inst) => inst.pid === maker(dir, name));
        if (name !== FILE && by !== undefined && !by.crashed) return `instance ${by.index}, which did not crash, left ${name} behind`;
      }
      // Every instance's process ends; a command it recorded lives on unless it died.
      for (const inst of insts) table.set(inst.pid, { exists: false, startedAtMs: null });
      const text = readText(file);
      const named = /^[1-9]\d*\n$/.test(text) ? Number(text) : null;
      const holder = named !== null && alive(named) ? named : null;
      const fresh = makeWorld(3001, table, startMs, () => {});
      table.set(fresh.pid, { exists: true, startedAtMs: startMs - 60_000 });
      let held;
      try {
        held = runThrough(takeStalePid({ path: file, logger: silent, waitMs: 0, signal: undefined, world: fresh }), fresh);
      } catch (error) {
        if (holder !== null && error.code === 'ELOCKED' && error.pid === holder) return null;
        return `afterwards a fresh start failed: ${error.code} ${error.message}`;
      }
      if (holder !== null) return `afterwards a fresh start took the lock that PID ${holder} holds`;
      runThrough(held.releaseSteps(), fresh);
      const left = fs.readdirSync(dir).filter((name) => maker(dir, name) === fresh.pid);
      if (left.length > 0) return `the fresh start left ${left.join(', ')}`;
      return null;
    },
    dispose() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Where the runs' directories go: PIDGUARD_CHECKER_DIR, else /dev/shm where there is one (a real
 * tmpfs: the runs are many, and cost less there than on a disk), else the temporary directory.
 */
function scratchRoot() {
  const chosen = process.env.PIDGUARD_CHECKER_DIR;
  if (chosen !== undefined && chosen !== '') return chosen;
  return fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
}

/** The scenarios: what is there first, and what each instance does. */
export const SCENARIOS = {
  'two start on a free path': { stale: false, instances: [{ role: 'acquire' }, { role: 'acquire' }] },
  'two find a stale file': { stale: true, instances: [{ role: 'acquire' }, { role: 'acquire' }] },
  'a holder whose recorded PID dies, and a newcomer': { stale: false, instances: [{ role: 'zombie' }, { role: 'acquire' }] },
  'a holder, and a newcomer that waits': { stale: false, instances: [{ role: 'acquire' }, { role: 'acquire', wait: 1000 }] },
  'three start on a free path': { stale: false, instances: [{ role: 'acquire' }, { role: 'acquire' }, { role: 'acquire' }] },
  // Issue 18, item 1: the holder's command dies; a taker and a newcomer.
  'a holder whose recorded PID dies, a taker and a newcomer': {
    stale: false, instances: [{ role: 'zombie', ready: true }, { role: 'acquire', release: false }, { role: 'acquire', release: false }],
  },
  'three find a stale file': { stale: true, instances: [{ role: 'acquire' }, { role: 'acquire', release: false }, { role: 'acquire', release: false }] },
};

/**
 * Explores every interleaving of scenario `name`, with up to `crashes` crashes in a run. Returns
 * the totals; throws with the violation and the steps that led to it.
 */
export function checkScenario(name, { crashes = 1, maxRuns = Infinity, onlyInvariants = false } = {}) {
  const scenario = SCENARIOS[name];
  if (scenario === undefined) throw new Error(`no scenario ${name}`);
  const base = fs.mkdtempSync(path.join(scratchRoot(), 'pidguard-interleavings-'));
  let runIndex = 0;
  const started = Date.now();
  try {
    const result = explore(() => {
      runIndex += 1;
      return makeSystem({ dir: path.join(base, `run-${runIndex}`), stale: scenario.stale, instances: scenario.instances, crashes, onlyInvariants });
    }, { maxRuns });
    const totals = {
      scenario: name, instances: scenario.instances.length, crashes, interleavings: result.runs, steps: result.steps,
      longest: result.longest, complete: result.complete, seconds: (Date.now() - started) / 1000,
    };
    if (result.violation !== null) {
      const error = new Error(`${name}: after ${result.runs} interleavings: ${result.violation.message}\n  ${result.violation.trace.join('\n  ')}`);
      error.totals = totals;
      throw error;
    }
    return totals;
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

/**
 * The torture scenario: each of `checks` ({ scenario, crashes, maxRuns }) in turn. Reports the
 * interleavings explored, in total and by scenario; a scenario cut short by `maxRuns` says so.
 */
export function interleavings({ checks }) {
  const started = Date.now();
  const report = { interleavings: 0 };
  for (const { scenario, crashes, maxRuns } of checks) {
    const totals = checkScenario(scenario, { crashes, maxRuns });
    report.interleavings += totals.interleavings;
    report[`${scenario}, crashes ${crashes}`] = totals.complete ? totals.interleavings : `${totals.interleavings} (cut short)`;
  }
  report.seconds = Math.round((Date.now() - started) / 100) / 10;
  return report;
}
