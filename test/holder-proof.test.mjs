// Naming and signalling only a process proven to hold the lock: a PID left in the file by a
// SIGKILLed holder and reused by another process, or written in another PID namespace, is never
// reported as the holder, and `stop` never signals it. Real holders (flock(1), pidguard run),
// real decoys (test/fixtures/decoy.py, which blocks and so records every signal sent to it), and
// real PID reuse and PID namespaces (unshare, root only).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { acquireSync, inspect, inspectSync, LockedError } from 'pidguard';
import errors from '../dist/errors.js';
import holderProof from '../dist/kernel/holder-proof.js';
import { cliSetup, fileHolds, sh, startScript } from './cli-helpers.mjs';
import { here, pendingSignals, run, startDecoy, startHolder, tempDir } from './helpers.mjs';

const { nameHolder, familyHead } = holderProof;
const { lockedMessage } = errors;

const linux = { skip: process.platform !== 'linux' && 'needs /proc', timeout: 60_000 };
const isRoot = process.getuid?.() === 0;
const asRoot = { ...linux, skip: linux.skip || (!isRoot && 'unshare and setpriv need root') };
const decoyScript = path.join(here, 'fixtures', 'decoy.py');

/** Runs nameHolder with fixed answers from the descriptors. */
function named(facts, checks, running = () => true) {
  const check = checks === null ? null : function* (pid) {
    yield* [];
    return checks[pid] ?? 'not';
  };
  const steps = nameHolder(facts, check, running);
  for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
}

test('the rules: only a proven PID is named; the kernel\'s record only when it cannot be checked, and marked so', () => {
  const writer = (pid) => ({ pid, exclusive: true });
  const base = { recordedPid: 10, listed: [writer(20)], lockedOtherwise: null };
  assert.deepEqual(named(base, { 10: 'holds' }), { locked: true, pid: 10, proof: 'fd', recordedPid: 10, recordedPidHolds: true });
  // The file's PID reused by a process that holds nothing: the kernel's taker, proven, is named.
  assert.deepEqual(named(base, { 10: 'not', 20: 'holds' }), { locked: true, pid: 20, proof: 'fd', recordedPid: 10, recordedPidHolds: false });
  // Neither proven: nobody is named (stop may search /proc for it).
  assert.deepEqual(named(base, { 10: 'not', 20: 'not' }), { locked: true, pid: null, proof: null, recordedPid: 10, recordedPidHolds: false });
  // The taker cannot be checked (another user's): named as the kernel's record, unproven.
  assert.deepEqual(named(base, { 10: 'not', 20: 'unknown' }), { locked: true, pid: 20, proof: 'proc-locks', recordedPid: 10, recordedPidHolds: false });
  assert.deepEqual(named(base, { 10: 'unknown', 20: 'holds' }), { locked: true, pid: 20, proof: 'fd', recordedPid: 10, recordedPidHolds: null });
  // A lock listed under the file's key but held on another file (btrfs subvolumes): not locked.
  assert.deepEqual(named(base, { 10: 'not', 20: 'twin' }), { locked: false, pid: null, proof: null, recordedPid: 10, recordedPidHolds: false });
  // A taker in a PID namespace this process cannot see (printed as 0).
  assert.deepEqual(named({ ...base, listed: [writer(null)] }, { 10: 'not' }).pid, null);
  // Nothing exclusive listed, and the file's PID does not run: not locked.
  assert.deepEqual(named({ ...base, listed: [{ pid: 20, exclusive: false }] }, { 10: 'holds' }, () => false), { locked: false, pid: null, proof: null, recordedPid: 10, recordedPidHolds: false });
  // Nothing listed, but the file's PID holds it: a lock whose taker has ended, which /proc/locks
  // leaves out in a container's PID namespace.
  assert.deepEqual(named({ ...base, listed: [] }, { 10: 'holds' }), { locked: true, pid: 10, proof: 'fd', recordedPid: 10, recordedPidHolds: true });
  assert.deepEqual(named({ ...base, listed: [] }, { 10: 'not' }).locked, false);
  // Where nothing can prove a holder (macOS, the BSDs, Windows): the file's PID while it runs.
  assert.deepEqual(named({ ...base, listed: null, lockedOtherwise: true }, null), { locked: true, pid: 10, proof: 'pid-file', recordedPid: 10, recordedPidHolds: null });
  assert.deepEqual(named({ ...base, listed: null, lockedOtherwise: true }, null, () => false).pid, null);
});

test('of a family found holding the lock, the one whose parent is not among them', () => {
  assert.equal(familyHead([{ pid: 5, ppid: 1 }, { pid: 6, ppid: 5 }, { pid: 7, ppid: 6 }]), 5);
  assert.equal(familyHead([{ pid: 5, ppid: 1 }, { pid: 8, ppid: 1 }]), null, 'two unrelated holders: no guess');
  assert.equal(familyHead([]), null);
});

test('the words of a refusal: the file\'s PID that is not the holder, and a taker that cannot be checked', () => {
  const doubt = (recordedPid, recordedPidHolds, uncheckedPid = null) => ({ recordedPid, recordedPidHolds, uncheckedPid });
  assert.equal(lockedMessage('/run/a.pid', 7, 1, doubt(7, true)), '/run/a.pid is locked: already running as PID 7. To stop it: kill 7');
  assert.equal(lockedMessage('/run/a.pid', 7, 1, doubt(9, false)),
    '/run/a.pid is locked: already running as PID 7 (the file names PID 9, which does not hold the lock). To stop it: kill 7');
  assert.equal(lockedMessage('/run/a.pid', null, 1, doubt(9, false)),
    '/run/a.pid is locked by another process, which could not be named: the file names PID 9, which does not hold the lock');
  assert.equal(lockedMessage('/run/a.pid', null, 1, doubt(9, null, 12)),
    '/run/a.pid is locked by another process: PID 12 took the lock, but this process cannot check that it still holds it; ' +
    'the file names PID 9, which this process cannot check');
  assert.equal(lockedMessage('/run/a.pid', null, 1, doubt(null, null)), '/run/a.pid is locked by another process, which has not recorded its PID in the file');
});

test('a flock(1) holder whose file names an unrelated live process: status names flock, stop signals it and never the other', linux, async (t) => {
  const setup = cliSetup(t);
  // --close: flock(1) alone holds the lock, so that the SIGTERM stop sends it frees the file.
  const { child: flock } = await startHolder(t, 'flock', ['--close', setup.pidfile, '-c', 'echo held; exec sleep 60']);
  const flockEnded = new Promise((resolve) => flock.once('exit', (code, signal) => resolve({ code, signal })));
  const decoy = await startDecoy(t);
  fs.writeFileSync(setup.pidfile, `${decoy.pid}\n`); // a SIGKILLed holder's PID, reused since

  const status = sh(setup, 'pidguard status app.pid');
  assert.equal(status.stdout, `${flock.pid}\n`, `status names the holder, not PID ${decoy.pid}; stderr: ${status.stderr}`);
  assert.equal(status.status, 0);
  assert.match(status.stderr, new RegExp(`names PID ${decoy.pid}, which does not hold the lock`));

  const seen = await inspect(setup.pidfile);
  assert.deepEqual(inspectSync(setup.pidfile), seen);
  assert.deepEqual({ ...seen, startedAt: undefined, commandLine: undefined }, {
    path: setup.pidfile, locked: true, pid: flock.pid, holderProof: 'fd', recordedPid: decoy.pid, recordedPidHolds: false, exists: true,
    mode: 'kernel', checkedBy: 'proc-locks', alive: true, startedAt: undefined, commandLine: undefined,
  });
  assert.match(seen.commandLine, /^flock /, 'describes the holder, not the process the file names');

  assert.throws(() => acquireSync(setup.pidfile), (error) => {
    assert.ok(error instanceof LockedError);
    assert.equal(error.pid, flock.pid);
    assert.match(error.message, new RegExp(`already running as PID ${flock.pid} \\(the file names PID ${decoy.pid}, which does not hold the lock\\)\\. To stop it: kill ${flock.pid}`));
    return true;
  });
  const refused = sh(setup, 'pidguard run app.pid -- touch ran');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`already running as PID ${flock.pid}: flock `));

  const stopped = sh(setup, 'pidguard stop -t 10 app.pid');
  assert.deepEqual(decoy.pending(), [], 'stop sent the unrelated process nothing');
  assert.equal(stopped.status, 0, stopped.stderr);
  assert.deepEqual(await flockEnded, { code: null, signal: 'SIGTERM' });
  assert.equal(fs.existsSync(path.join(setup.dir, 'ran')), false);
});

// A thread's ID is a PID to kill(2) and has a /proc entry sharing the process's descriptors, so
// its "descriptors" hold the lock too; but it names a thread, whose ID goes to a new process once
// the thread ends, while the process runs on holding the lock. Only the process is the holder.
test('a file naming a thread of the holder (its TID): status and inspect name the process, and stop signals the process', linux, async (t) => {
  const setup = cliSetup(t);
  // A holder with a second thread: python3 takes the lock and starts one.
  const threaded = spawn('/usr/bin/python3', ['-c', `
import fcntl, os, sys, threading
f = open(sys.argv[1], 'a')
fcntl.flock(f, fcntl.LOCK_EX)
ready = threading.Event()
t = threading.Thread(target=lambda: (ready.set(), threading.Event().wait()), daemon=True)
t.start(); ready.wait()
print(os.getpid(), t.native_id, flush=True)
sys.stdin.read()`, path.join(setup.dir, 'threaded.pid')], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => threaded.kill('SIGKILL'));
  const [pid, tid] = (await readline.createInterface({ input: threaded.stdout })[Symbol.asyncIterator]().next()).value.split(' ').map(Number);
  assert.notEqual(pid, tid);
  const pidfile = path.join(setup.dir, 'threaded.pid');
  fs.writeFileSync(pidfile, `${tid}\n`);

  const seen = inspectSync(pidfile);
  assert.deepEqual({ pid: seen.pid, holderProof: seen.holderProof, recordedPid: seen.recordedPid, recordedPidHolds: seen.recordedPidHolds },
    { pid, holderProof: 'fd', recordedPid: tid, recordedPidHolds: false });
  const status = sh(setup, 'pidguard status threaded.pid');
  assert.equal(status.stdout, `${pid}\n`, status.stderr);
  const exited = new Promise((resolve) => threaded.once('exit', (code, signal) => resolve(signal)));
  const stopped = sh(setup, 'pidguard stop -t 10 threaded.pid');
  assert.equal(stopped.status, 0, stopped.stderr);
  assert.equal(await exited, 'SIGTERM');
});

test('a PID namespace\'s holder writes 1: from outside, status names its PID there, stop signals it and never that namespace\'s init', asRoot, async (t) => {
  const setup = cliSetup(t);
  // The "host" is a PID namespace of the test's own, whose init is a decoy that records every
  // signal sent to it: the machine's real init is never at risk, even from a broken stop.
  // Inside it, a holder in a namespace of its own records its own PID there: 1.
  const steps = `
    unshare --pid --fork --mount-proc pidguard run --pid self app.pid -- sleep 60 &
    outer=$!
    for i in $(seq 1500); do [ "$(cat app.pid 2>/dev/null)" = 1 ] && break; sleep 0.01; done
    echo "file $(cat app.pid)"
    echo "holder $(cat /proc/$outer/task/$outer/children)"
    echo "status $(pidguard status app.pid 2>status.err) $?"
    pidguard stop -t 5 app.pid 2>stop.err
    echo "stop $?"
    wait $outer
    echo "holder-exit $?"`;
  const host = startScript(t, setup, `exec unshare --pid --fork --mount-proc python3 ${decoyScript} host.ready bash -c '${steps.replaceAll("'", "'\\''")}'`);
  const stderr = (name) => fs.readFileSync(path.join(setup.dir, name), 'utf8');
  assert.equal(await host.nextLine(), 'file 1');
  const holder = await host.nextLine();
  const holderPid = Number(holder.split(' ')[1]);
  assert.ok(holderPid > 1, holder);
  const status = await host.nextLine();
  assert.equal(status, `status ${holderPid} 0`, `status names the holder as the reader's namespace numbers it; ${stderr('status.err')}`);
  assert.match(stderr('status.err'), /names PID 1, which does not hold the lock/);
  assert.equal(await host.nextLine(), 'stop 0', stderr('stop.err'));
  assert.equal(await host.nextLine(), `holder-exit ${128 + 15}`, 'the holder ended on the SIGTERM it forwarded to its command');
  assert.deepEqual(JSON.parse(await host.nextLine()), { pending: [] }, 'the namespace\'s init was sent nothing');
  assert.deepEqual(await host.exited, { code: 0, signal: null });
});

test('a SIGKILLed pidguard run whose command keeps the lock, the file naming a live unrelated process: stop finds and signals the command', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run --pid self app.pid -- bash -c 'echo $$; exec sleep 60'`);
  const commandPid = Number(await service.nextLine());
  await fileHolds(setup.pidfile, `${service.child.pid}\n`);
  process.kill(service.child.pid, 'SIGKILL');
  await service.exited;
  // The wrapper's PID, which the file and /proc/locks name, reused by another process: written
  // here, since the machine's PIDs cannot be made to come round in a test (the next test reuses
  // one for real, in a PID namespace of its own).
  const decoy = await startDecoy(t);
  fs.writeFileSync(setup.pidfile, `${decoy.pid}\n`);
  const commandEnded = new Promise((resolve) => {
    const poll = setInterval(() => {
      if (!fs.existsSync(`/proc/${commandPid}`)) resolve(clearInterval(poll));
    }, 10);
    t.after(() => clearInterval(poll));
  });

  const status = sh(setup, 'pidguard status app.pid');
  assert.equal(status.stdout, '', `status names nobody, never PID ${decoy.pid}; stderr: ${status.stderr}`);
  assert.equal(status.status, 0, 'it is held');
  assert.match(status.stderr, new RegExp(`could not be named: the file names PID ${decoy.pid}, which does not hold the lock`));
  const seen = await inspect(setup.pidfile);
  assert.equal(seen.pid, null);
  assert.equal(seen.holderProof, null);
  assert.equal(seen.recordedPidHolds, false);
  assert.equal(seen.alive, null, 'describes no process the file names while another holds the lock');
  assert.throws(() => acquireSync(setup.pidfile), (error) => {
    assert.equal(error.pid, null);
    assert.match(error.message, new RegExp(`could not be named: the file names PID ${decoy.pid}, which does not hold the lock`));
    return true;
  });

  const stopped = sh(setup, 'pidguard stop -t 10 app.pid');
  assert.deepEqual(decoy.pending(), [], 'stop sent the unrelated process nothing');
  assert.equal(stopped.status, 0, stopped.stderr);
  assert.match(stopped.stderr, new RegExp(`found PID ${commandPid} holding it by looking through /proc/\\*/fd`));
  await commandEnded;
});

test('in a container\'s PID namespace, the same with the wrapper\'s PID reused for real: /proc/locks lists no lock, stop still finds the command', asRoot, async (t) => {
  const setup = cliSetup(t);
  // In a PID namespace of its own, where the next PID can be chosen (ns_last_pid) without
  // touching the machine's, the killed wrapper's PID is given to a decoy. There /proc/locks leaves
  // out a lock whose taker has ended: only the command, which inherited the lock, holds it.
  const steps = `
    pidguard run --pid self app.pid -- bash -c 'echo $$ > command.pid; exec sleep 60' &
    wrapper=$!
    for i in $(seq 1500); do [ -s command.pid ] && [ "$(cat app.pid 2>/dev/null)" = $wrapper ] && break; sleep 0.01; done
    kill -KILL $wrapper
    wait $wrapper
    echo $((wrapper - 1)) > /proc/sys/kernel/ns_last_pid
    python3 ${decoyScript} decoy.ready &
    decoy=$!
    for i in $(seq 1500); do [ -s decoy.ready ] && break; sleep 0.01; done
    echo "pids $wrapper $decoy $(cat command.pid) $(cat app.pid) $(grep -c FLOCK /proc/locks)"
    echo "status $(pidguard status app.pid 2>status.err) $?"
    pidguard stop -t 5 app.pid 2>stop.err
    echo "stop $?"
    echo "pending $(awk '/^(SigPnd|ShdPnd):/ { printf "%s ", $2 }' /proc/$decoy/status)"
    echo "command $(cut -d' ' -f3 /proc/$(cat command.pid)/stat 2>/dev/null)"
    kill -KILL $decoy`;
  const ns = startScript(t, setup, `exec unshare --pid --fork --mount-proc bash -c '${steps.replaceAll("'", "'\\''")}'`);
  const [pids, status, stop, pending, command] = await Promise.all(Array.from({ length: 5 }, () => ns.nextLine()));
  const [, wrapper, decoy, commandPid, recorded, listed] = pids.split(' ');
  assert.equal(decoy, wrapper, `the decoy was given the killed wrapper's PID: ${pids}`);
  assert.equal(recorded, wrapper, 'the file names it');
  assert.equal(listed, '0', '/proc/locks lists no flock in this namespace');
  const stderr = (name) => fs.readFileSync(path.join(setup.dir, name), 'utf8');
  assert.match(status, /^status  \d$/, `status names nobody, never PID ${decoy}; ${stderr('status.err')}`);
  assert.equal(pending, 'pending 0000000000000000 0000000000000000 ', 'stop sent the decoy nothing');
  assert.equal(stop, 'stop 0', stderr('stop.err'));
  assert.match(stderr('stop.err'), new RegExp(`/proc/locks does not list it .*; found PID ${commandPid} holding it by looking through /proc/\\*/fd`));
  assert.match(command, /^command ?Z?$/, `the command ended: ${command}`);
  assert.deepEqual(await ns.exited, { code: 0, signal: null });
});

test('a holder this user cannot check: named as the kernel\'s record, marked unproven; status and stop say so and signal nothing', asRoot, async (t) => {
  const setup = cliSetup(t);
  fs.chmodSync(setup.dir, 0o755);
  const { child: flock } = await startHolder(t, 'flock', ['--close', setup.pidfile, '-c', 'echo held; exec sleep 60']);
  fs.writeFileSync(setup.pidfile, `${flock.pid}\n`);
  fs.chmodSync(setup.pidfile, 0o644);
  const asNobody = (args) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(setup.dir, 'bin', 'pidguard'), ...args], { cwd: setup.dir });
  const json = JSON.parse(asNobody(['status', '--json', setup.pidfile]).stdout);
  assert.equal(json.locked, true);
  assert.equal(json.pid, flock.pid);
  assert.equal(json.holderProof, 'proc-locks');
  assert.equal(json.recordedPidHolds, null);
  const status = asNobody(['status', setup.pidfile]);
  assert.equal(status.status, 0);
  assert.equal(status.stdout, '', 'prints no PID it cannot prove');
  assert.match(status.stderr, new RegExp(`PID ${flock.pid} took the lock, but this process cannot check that it still holds it`));
  const stop = asNobody(['stop', '-t', '1', setup.pidfile]);
  assert.equal(stop.status, 4, 'cannot tell whom to signal (was 1, which --oknodo would make 0)');
  assert.match(stop.stderr, /cannot tell whom to signal/);
  assert.equal(flock.exitCode, null, 'still running');
  // Root can check it, and names it as proven.
  assert.equal(sh(setup, 'pidguard status --json app.pid').stdout.includes('"holderProof":"fd"'), true);
});

test('the command of a SIGKILLed pidguard run keeps the lock: status names it, proven, though the kernel names the dead wrapper', linux, async (t) => {
  const setup = cliSetup(t);
  const service = startScript(t, setup, `exec pidguard run app.pid -- bash -c 'echo $$; exec sleep 60'`);
  const commandPid = Number(await service.nextLine());
  await fileHolds(setup.pidfile, `${commandPid}\n`);
  process.kill(service.child.pid, 'SIGKILL');
  await service.exited;
  const seen = await inspect(setup.pidfile);
  assert.equal(seen.pid, commandPid);
  assert.equal(seen.holderProof, 'fd');
  assert.equal(seen.recordedPidHolds, true);
  assert.equal(sh(setup, 'pidguard stop app.pid').status, 0);
  assert.equal((await inspect(setup.pidfile)).locked, false);
});

/** test/fixtures/signal-gate.c, built for this test: a command's signals wait at a gate until let through. */
function buildSignalGate(t) {
  const gate = path.join(tempDir(t), 'signal-gate');
  const built = run(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', gate, path.join(here, 'fixtures', 'signal-gate.c')]);
  assert.equal(built.status, 0, built.stderr);
  return gate;
}

/**
 * A decoy (test/fixtures/decoy.py) given PID `pid`, freed just before: the kernel's last PID is set
 * to the one before it (ns_last_pid, root) just before each fork, until a fork gets it (another
 * process forking in between takes it first, now and then).
 */
async function decoyWithPid(t, pid) {
  const ready = path.join(tempDir(t), 'ready');
  const script = `for try in $(seq 500); do
    echo ${pid - 1} > /proc/sys/kernel/ns_last_pid
    python3 ${path.join(here, 'fixtures', 'decoy.py')} ${ready} &
    if [ $! -eq ${pid} ]; then echo $!; wait $!; exit; fi
    kill -9 $!; wait $! 2>/dev/null
  done; echo none`;
  const { output } = await startHolder(t, 'bash', ['-c', script]);
  assert.equal(output.trim(), String(pid), 'no fork got the freed PID');
  const deadline = Date.now() + 15_000;
  while (!fs.existsSync(ready)) {
    if (Date.now() > deadline) throw new Error('the decoy did not start within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { pid, pending: () => pendingSignals(pid) };
}

test('stop pins the holder before proving it: a holder that ends, its PID given to another process, before the signal lands, leaves that process unsignalled', asRoot, async (t) => {
  const gate = buildSignalGate(t);
  const setup = cliSetup(t);
  // One process, with no children: its PID is free again once it has been reaped (a PID still
  // naming a process group, as flock(1)'s would for its command, is never handed out).
  const hold = 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); print("held", flush=True); time.sleep(120)';
  const { child: holder } = await startHolder(t, 'python3', ['-c', hold, setup.pidfile]);
  const holderEnded = new Promise((resolve) => holder.once('exit', resolve));
  fs.writeFileSync(setup.pidfile, `${holder.pid}\n`);

  const stop = spawn(gate, ['pidguard', 'stop', '-t', '10', 'app.pid'], { cwd: setup.dir, env: setup.env, stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => stop.kill('SIGKILL'));
  let stderr = '';
  stop.stderr.on('data', (data) => {
    stderr += data;
  });
  const lines = readline.createInterface({ input: stop.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => (await lines.next()).value;

  // The barrier: stop has looked, proven the holder and is in the call that signals it, held.
  assert.equal(await nextLine(), `signal ${holder.pid} 15`, stderr);
  // Meanwhile the holder ends, and its PID goes to an unrelated process.
  process.kill(holder.pid, 'SIGKILL');
  await holderEnded;
  const decoy = await decoyWithPid(t, holder.pid);
  stop.stdin.write('go\n');

  const ended = await nextLine();
  assert.equal(ended, 'exit 0', stderr);
  assert.deepEqual(decoy.pending(), [], 'the SIGTERM meant for the holder reached the process that took its PID');
});

// /proc numbers processes as the PID namespace it was mounted for does; kill(2) takes this
// process's numbering. In a PID namespace of its own whose /proc is still the parent's
// (`unshare --pid --fork` without --mount-proc, bwrap --unshare-pid without --proc), the holder
// /proc proves is, by that number, another process here: stop must refuse, not signal that one.
test("stop in a PID namespace whose /proc is not its own refuses, and signals neither the holder's number there nor anyone", asRoot, async (t) => {
  const setup = cliSetup(t);
  const hold = 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); print("held", flush=True); time.sleep(120)';
  const { child: holder } = await startHolder(t, 'python3', ['-c', hold, setup.pidfile]);
  fs.writeFileSync(setup.pidfile, `${holder.pid}\n`);
  const done = path.join(setup.dir, 'done');
  // In the new namespace: a decoy given the holder's number there (its last PID set just before
  // each fork), then stop; the decoy prints the signals sent to it once `done` appears.
  const script = `
    for try in $(seq 500); do
      echo ${holder.pid - 1} > /proc/sys/kernel/ns_last_pid
      python3 ${path.join(here, 'fixtures', 'decoy.py')} ${path.join(setup.dir, 'ready')} sh -c 'while [ ! -e ${done} ]; do sleep 0.02; done' > ${path.join(setup.dir, 'decoy.json')} &
      [ $! -eq ${holder.pid} ] && break
      kill -9 $!; wait $! 2>/dev/null
    done
    [ $! -eq ${holder.pid} ] || { echo 'no fork got the number' >&2; exit 99; }
    while [ ! -e ${path.join(setup.dir, 'ready')} ]; do sleep 0.01; done
    pidguard stop -t 2 app.pid; echo "stop $?"
    touch ${done}; wait $!`;
  const result = run('unshare', ['--pid', '--fork', 'bash', '-c', script], { cwd: setup.dir, env: setup.env });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'stop 4\n', result.stderr);
  assert.match(result.stderr, /\/proc numbers processes for another PID namespace/);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(setup.dir, 'decoy.json'), 'utf8')), { pending: [] });
  assert.equal(holder.exitCode, null, 'the holder runs on');
});
