// The controller of the PID-reuse scenario (torture/reuse.mjs): holders of every kind come and
// go on one PID file while its text, and the PIDs of killed holders, name live unrelated
// processes (decoys: test/fixtures/decoy.py, which block every signal, so that each one sent to
// them stays visible). Each round ends with `pidguard stop` run under strace, which journals every
// signal it sends; each must go to a process that held the lock at that moment, as this
// controller knows from what it started. Where it runs as PID 1's child in a PID namespace of its
// own (root), the PID of a killed holder is really reused: written to ns_last_pid, and the next
// process started gets it.
//
//   node reuse-run.mjs DIR ROUNDS REAL_REUSE(0|1)
//
// Prints one JSON line: the report, or { error }.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, here, journalWriter, readJournal } from './lib.mjs';

const [dir, roundsText, realReuseText] = process.argv.slice(2);
const rounds = Number(roundsText);
const realReuse = realReuseText === '1';
const file = path.join(dir, 'service.pid');
const journalFile = path.join(dir, 'journal');
const journal = journalWriter(journalFile);
const decoyScript = path.join(here, '..', 'test', 'fixtures', 'decoy.py');
const pidguard = path.join(here, '..', 'bin', 'pidguard.js');

/** The kinds of holder, in turn. 'stale-then-flock': a library holder SIGKILLed, its PID reused, then flock(1) over its file. */
const KINDS = ['flock', 'run', 'run-self', 'run-killed', 'run-self-killed', 'library', 'stale-then-flock'];

/** The decoys, alive until the end, when each is checked for pending signals. */
const decoys = [];
const decoyProcs = [];
/** This round's processes, by PID and start time: SIGKILLed at its end only if still the same process. */
let roundProcs = [];

function startTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Remembers process `pid` of this round, to end it with the round (never a process that reused its PID). */
function remember(pid) {
  roundProcs.push({ pid, start: startTicks(pid) });
}

function endRound() {
  for (const { pid, start } of roundProcs) {
    try {
      if (start !== null && startTicks(pid) === start) process.kill(pid, 'SIGKILL');
    } catch {
      // ended between the look and the kill
    }
  }
  roundProcs = [];
}

/**
 * Starts `command` as a child of this process (not in a group of its own: a group would keep its
 * leader's PID from being reused while any member lived), and reads its output a line at a time.
 */
function launch(command, args, { decoy = false } = {}) {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  if (decoy) decoyProcs.push(proc);
  else remember(proc.pid);
  const lines = readline.createInterface({ input: proc.stdout });
  const queued = [];
  const waiting = [];
  lines.on('line', (line) => (waiting.length > 0 ? waiting.shift()(line) : queued.push(line)));
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const next = () => Promise.race([
    queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve)),
    exited.then(({ code, signal }) => {
      throw new Error(`${command} ${proc.pid} exited (${code ?? signal}) before saying anything`);
    }),
  ]);
  return { proc, pid: proc.pid, exited, next };
}

/** Bounded wait for a condition another process brings about (a file written). */
async function until(what, condition) {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    check(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(2);
  }
}

function fileText() {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

async function startDecoy() {
  const ready = path.join(dir, `decoy-${decoys.length}.ready`);
  const decoy = launch('python3', [decoyScript, ready], { decoy: true });
  await until('a decoy', () => fs.existsSync(ready));
  decoys.push(decoy.pid);
  return decoy.pid;
}

/** The signals pending on `pid` (SigPnd, ShdPnd of /proc/<pid>/status). */
function pendingMask(pid) {
  let mask = 0n;
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'latin1').split('\n')) {
    if (line.startsWith('SigPnd:') || line.startsWith('ShdPnd:')) mask |= BigInt(`0x${line.split(/\s+/)[1]}`);
  }
  return mask;
}

/** Gives the next PID this namespace hands out to a decoy: `pid`, now free. True when it got it. */
async function reuseFor(pid) {
  if (!realReuse) return false;
  fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
  return (await startDecoy()) === pid;
}

/** `pidguard run` holding the file with `sleep`: resolves with the wrapper and the command. */
async function pidguardRun(self) {
  const wrapper = launch(process.execPath, [pidguard, 'run', ...(self ? ['--pid', 'self'] : []), file, '--', 'bash', '-c', 'echo $$; exec sleep 120']);
  const command = Number(await wrapper.next());
  remember(command);
  const recorded = self ? wrapper.pid : command;
  await until('the PID to be recorded', () => fileText() === `${recorded}\n`);
  return { wrapper, command };
}

/** Starts a holder of `kind`; resolves with the PIDs that hold the lock (share its open file description). */
async function hold(kind, report) {
  switch (kind) {
    case 'flock':
    case 'stale-then-flock': {
      if (kind === 'stale-then-flock') {
        // A holder killed without a word leaves its PID in the file; the PID is reused.
        const library = launch(process.execPath, ['-e', `require(${JSON.stringify(path.join(here, '..'))}).acquireSync(${JSON.stringify(file)}); console.log('held'); setInterval(() => {}, 1e6)`]);
        await library.next();
        library.proc.kill('SIGKILL');
        await library.exited;
        if (await reuseFor(library.pid)) report.realReuses += 1;
      }
      // --close: flock(1) alone holds the lock, so the one SIGTERM stop sends frees it.
      const flock = launch('flock', ['--close', file, '-c', 'echo $$; exec sleep 120']);
      remember(Number(await flock.next())); // its command, which does not hold the lock
      return [flock.pid];
    }
    case 'run':
    case 'run-self': {
      const { wrapper, command } = await pidguardRun(kind === 'run-self');
      return [wrapper.pid, command];
    }
    case 'run-killed':
    case 'run-self-killed': {
      const { wrapper, command } = await pidguardRun(kind === 'run-self-killed');
      wrapper.proc.kill('SIGKILL');
      await wrapper.exited;
      // The file names the command ('run-killed') or the dead wrapper, whose PID is reused.
      if (kind === 'run-self-killed' && (await reuseFor(wrapper.pid))) report.realReuses += 1;
      return [command];
    }
    case 'library': {
      const library = launch(process.execPath, ['-e', `require(${JSON.stringify(path.join(here, '..'))}).acquireSync(${JSON.stringify(file)}); console.log('held'); setInterval(() => {}, 1e6)`]);
      await library.next();
      return [library.pid];
    }
    default:
      throw new Error(`no such kind ${kind}`);
  }
}

/** The signals a traced command sent to other processes: [target, signal], from strace's output. */
function signalsSent(trace, self) {
  const sent = [];
  for (const line of trace.split('\n')) {
    const match = /^(\d+)\s+(?:kill|tkill)\((-?\d+), (\w+)\)/.exec(line) ?? /^(\d+)\s+tgkill\((-?\d+), -?\d+, (\w+)\)/.exec(line);
    if (match === null || match[3] === '0') continue;
    const [, from, target, signal] = match;
    if (Number(target) === Number(from) || self.has(Number(target))) continue;
    sent.push([Number(target), signal]);
  }
  return sent;
}

async function main() {
  const report = { rounds, stops: 0, signals: 0, planted: 0, realReuses: 0, decoys: 0, kinds: {} };
  for (let i = 0; i < 3; i += 1) await startDecoy();
  for (let round = 1; round <= rounds; round += 1) {
    const kind = KINDS[(round - 1) % KINDS.length];
    report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
    const holders = await hold(kind, report);
    // Every other round, the file's text is made to name a decoy, as a PID left by a holder
    // SIGKILLed long ago and since reused would (over 2 x KINDS rounds, each kind both ways).
    if (round % 2 === 0) {
      fs.writeFileSync(file, `${decoys[round % decoys.length]}\n`);
      report.planted += 1;
    }
    journal.write(`round ${round} ${kind} holders ${holders.join(',')} file ${JSON.stringify(fileText())}`);
    const trace = path.join(dir, `stop-${round}.trace`);
    const stop = spawnSync('strace', ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=kill,tkill,tgkill', '-e', 'signal=none', '-o', trace, process.execPath, pidguard, 'stop', '-t', '10', file], { encoding: 'utf8', timeout: 60_000 });
    check(stop.error === undefined, `round ${round}: strace: ${stop.error?.message}`);
    const traced = fs.readFileSync(trace, 'latin1');
    const self = new Set(traced.split('\n').map((line) => Number(line.split(' ')[0])).filter((pid) => pid > 0));
    for (const [target, signal] of signalsSent(traced, self)) {
      const held = holders.includes(target);
      journal.write(`signal ${round} ${target} ${signal} ${held ? 'holder' : 'NOT-A-HOLDER'}`);
      report.signals += 1;
      check(held, `round ${round} (${kind}): stop sent ${signal} to PID ${target}, which did not hold the lock (holders: ${holders.join(', ')})`);
    }
    journal.write(`stop ${round} exit ${stop.status} ${JSON.stringify(stop.stderr.trim())}`);
    check(stop.status === 0, `round ${round} (${kind}): stop exited ${stop.status}: ${stop.stderr}`);
    check(spawnSync('flock', ['--nonblock', file, 'true']).status === 0, `round ${round} (${kind}): still locked after stop`);
    report.stops += 1;
    endRound();
  }
  for (const line of readJournal(journalFile)) check(!line.includes('NOT-A-HOLDER'), `stop signalled a process that did not hold the lock: ${line}`);
  for (const decoy of decoys) check(pendingMask(decoy) === 0n, `decoy ${decoy} was sent a signal (pending mask ${pendingMask(decoy).toString(16)})`);
  report.decoys = decoys.length;
  return report;
}

try {
  console.log(JSON.stringify(await main()));
} catch (error) {
  console.log(JSON.stringify({ error: error.message }));
} finally {
  journal.close();
  endRound();
  for (const proc of decoyProcs) proc.kill('SIGKILL');
}
