// Shared by the tests: temporary directories, and child processes driven over stdin/stdout.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..');
export const agentScript = path.join(here, 'fixtures', 'agent.mjs');

export const onWindows = process.platform === 'win32';

/** Directories that could not be removed yet (on Windows, a file still open in them). */
const leftovers = new Set();
process.once('exit', () => {
  for (const dir of leftovers) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh directory under the system's temporary directory, removed when `t` ends, or at exit
 * if a file in it is still open then (Windows keeps a removed file's name until its last handle
 * closes, and a test's later `after` hooks may release it).
 */
export function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-test-'));
  t.after(() => {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      if (!onWindows) throw error;
      leftovers.add(dir);
    }
  });
  return dir;
}

/**
 * A child process running test/fixtures/agent.mjs: it answers each command sent with one JSON
 * line. Every agent is SIGKILLed when the test ends, so none outlives a failing test.
 */
export class Agent {
  constructor(t, extraArgs = [], options = {}) {
    this.child = spawn(process.execPath, [agentScript, ...extraArgs], {
      stdio: ['pipe', 'pipe', 'inherit'],
      ...options,
    });
    this.pid = this.child.pid;
    this.pending = [];
    this.queued = [];
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const message = JSON.parse(line);
      const waiter = this.pending.shift();
      if (waiter) waiter(message);
      else this.queued.push(message);
    });
    t.after(() => this.kill('SIGKILL'));
  }

  /** The next message the agent prints. */
  next() {
    if (this.queued.length > 0) return Promise.resolve(this.queued.shift());
    return new Promise((resolve, reject) => {
      this.pending.push(resolve);
      this.exited.then(({ code, signal }) => reject(new Error(`agent ${this.pid} exited (${code ?? signal}) before answering`)));
    });
  }

  send(command) {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /** Sends a command and returns the agent's answer. */
  async ask(command) {
    const answer = this.next();
    this.send(command);
    return answer;
  }

  kill(signal) {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Starts `count` agents and waits until every one has loaded pidguard and said so. */
export async function startAgents(t, count, extraArgs) {
  const agents = Array.from({ length: count }, () => new Agent(t, extraArgs));
  await Promise.all(agents.map(async (agent) => {
    const hello = await agent.next();
    if (!hello.ready) throw new Error(`agent said ${JSON.stringify(hello)}`);
  }));
  return agents;
}

/** Runs a command to completion and returns its status and output. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000, ...options });
  if (result.error) throw result.error;
  return result;
}

/**
 * The Windows counterpart of flock(1) for the tests: test/fixtures/win32-lockprobe.c, built by
 * scripts/windows/test.mjs, which passes its path in PIDGUARD_LOCKPROBE.
 */
function lockProbe() {
  const probe = process.env.PIDGUARD_LOCKPROBE;
  if (!probe) throw new Error('PIDGUARD_LOCKPROBE is not set: run the Windows tests with npm run test:windows');
  return probe;
}

/**
 * Whether another process could take the lock on `file` right now (true) or found it held
 * (false), asked of flock(1) (or, on Windows, of a LockFileEx probe). Either creates the file
 * when it is missing. `shared`: a shared lock instead of an exclusive one.
 */
export function flockCanTake(file, { shared = false } = {}) {
  const { status } = onWindows
    ? run(lockProbe(), [...(shared ? ['--shared'] : []), file])
    : run('flock', [...(shared ? ['--shared'] : []), '--nonblock', '--conflict-exit-code', '99', file, 'true']);
  if (status !== 0 && status !== 99) throw new Error(`the lock probe exited ${status}`);
  return status === 0;
}

/**
 * Starts a command in a process group of its own, killed whole (with whatever it forked) when
 * `t` ends, and resolves once it prints its first output: a barrier, not a guess.
 */
export async function startHolder(t, command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  t.after(() => {
    try {
      // Windows has no process groups to signal: end the process itself.
      if (onWindows) child.kill('SIGKILL');
      else process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    child.stdout.destroy();
  });
  const output = await new Promise((resolve, reject) => {
    child.stdout.once('data', (data) => resolve(data.toString()));
    child.once('exit', (code) => reject(new Error(`${command} exited ${code} before saying anything`)));
  });
  return { child, output };
}

/**
 * The number of open descriptors of this process, from /proc on Linux; null elsewhere (on
 * Windows, where a leak shows instead as a file that cannot be removed or relocked). Decided by
 * the platform, not by whether /proc/self/fd exists: under Wine the Windows node.exe finds the
 * host's /proc through drive Z: and would count Wine's own descriptors.
 */
export function openDescriptorCount() {
  if (process.platform !== 'linux') return null;
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * pidguard's wait threads in this process, counted by the name the addon gives them (Linux:
 * /proc/self/task/<tid>/comm); null elsewhere. Not the process's thread count, which moves
 * whenever Node or V8 start threads of their own lazily.
 */
export function waitThreadCount() {
  if (process.platform !== 'linux') return null;
  return fs.readdirSync('/proc/self/task').filter((tid) => {
    try {
      return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8') === 'pidguard-wait\n';
    } catch {
      return false; // the thread ended as we looked
    }
  }).length;
}

/**
 * A long-lived process that holds nothing, for a PID that is alive: `sleep 60` under sh, or on
 * Windows a node.exe that waits. Resolves once it is up; `commandLine` is what /proc shows.
 */
export async function startSleeper(t) {
  const { child } = onWindows
    ? await startHolder(t, process.execPath, ['-e', "console.log('up'); setTimeout(() => {}, 60_000)"])
    : await startHolder(t, 'sh', ['-c', 'echo up; exec sleep 60']);
  return { child, commandLine: onWindows ? null : 'sleep 60' };
}

/**
 * A process that holds nothing and blocks every signal (test/fixtures/decoy.py), standing for a
 * PID a killed holder left behind and another process reused: `pending()` lists the signals sent
 * to it, which stay pending, so a test sees every one without racing its delivery. Resolves once
 * it has blocked them. Linux only (it reads /proc).
 */
export async function startDecoy(t) {
  const dir = tempDir(t);
  const ready = path.join(dir, 'ready');
  const { child } = await startHolder(t, 'sh', ['-c', `echo up; exec python3 ${path.join(here, 'fixtures', 'decoy.py')} ${ready}`]);
  const deadline = Date.now() + 15_000;
  while (!fs.existsSync(ready)) {
    if (Date.now() > deadline) throw new Error('the decoy did not start within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { pid: child.pid, pending: () => pendingSignals(child.pid) };
}

/** The signals pending on process `pid` (Linux: SigPnd and ShdPnd of /proc/<pid>/status), by number. */
export function pendingSignals(pid) {
  let mask = 0n;
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    if (line.startsWith('SigPnd:') || line.startsWith('ShdPnd:')) mask |= BigInt(`0x${line.split(/\s+/)[1]}`);
  }
  return Array.from({ length: 64 }, (_, bit) => bit + 1).filter((signal) => (mask >> BigInt(signal - 1)) & 1n);
}
