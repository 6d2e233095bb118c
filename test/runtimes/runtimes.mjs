// The runtimes that test/runtimes/*.test.mjs run pidguard in, how each is started, and child
// processes in them driven a line at a time. Bun and Deno come from the npm registry
// (scripts/runtimes/packages.mjs, fetched into .cache/runtimes/ when missing).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import readline from 'node:readline';
import { runtimeBinary, runtimeLabel } from '../../scripts/runtimes/packages.mjs';

/**
 * What Deno is given by default: what pidguard needs (the addon is native code: --allow-ffi; the
 * PID file: read and write; PIDGUARD_MODE and node-gyp-build's settings: env), and no more.
 */
export const DENO_PERMISSIONS = ['--allow-ffi', '--allow-read', '--allow-write', '--allow-env'];

/**
 * name → { label, argv(script, denoPermissions?) }. Deno is told to use the project's existing
 * node_modules (--node-modules-dir=manual: nothing is fetched, which offline is the only choice)
 * and to write no deno.lock. Node runs the same checks as the control: a check that fails in Bun
 * or Deno but passes in Node is the runtime's (or pidguard's handling of it), not the test's.
 */
export function runtime(name) {
  if (name === 'node') return { name, label: `node ${process.version}`, argv: (script) => [process.execPath, script] };
  if (name === 'bun') {
    const bun = runtimeBinary('bun');
    return { name, label: `bun ${runtimeLabel('bun')}`, argv: (script) => [bun, script] };
  }
  if (name === 'deno') {
    const deno = runtimeBinary('deno');
    return {
      name,
      label: `deno ${runtimeLabel('deno')}`,
      argv: (script, permissions = DENO_PERMISSIONS) => [deno, 'run', '--no-lock', '--node-modules-dir=manual', ...permissions, script],
    };
  }
  throw new Error(`unknown runtime ${name}`);
}

/** The runtimes to test: PIDGUARD_RUNTIMES (comma-separated), else all three. */
export const runtimeNames = (process.env.PIDGUARD_RUNTIMES || 'node,bun,deno').split(',');

/** The environment of every child: no update checks or prompts from Deno, nothing from npm. */
export function childEnv(extra = {}) {
  const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', NO_COLOR: '1', ...extra };
  for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key];
  delete env.PIDGUARD_MODE;
  return env;
}

/**
 * A child process running `argv` in `cwd`, read a line at a time with next() (JSON with
 * nextJson()). SIGKILLed when test `t` ends, so none outlives a failing test.
 */
export class LineChild {
  constructor(t, argv, { cwd, env = childEnv() } = {}) {
    this.child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.stderr = '';
    this.child.stderr.on('data', (data) => {
      this.stderr += data;
    });
    this.queued = [];
    this.waiting = [];
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter.resolve(line);
      else this.queued.push(line);
    });
    this.exited.then(({ code, signal }) => {
      for (const waiter of this.waiting.splice(0)) {
        waiter.reject(new Error(`${argv.join(' ')} (${this.pid}) exited (${code ?? signal}) before answering; stderr: ${this.stderr}`));
      }
    });
    t.after(() => this.kill('SIGKILL'));
  }

  next() {
    if (this.queued.length > 0) return Promise.resolve(this.queued.shift());
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async nextJson() {
    return JSON.parse(await this.next());
  }

  send(line) {
    this.child.stdin.write(`${line}\n`);
  }

  /** Sends a JSON command and returns the JSON answer. */
  async ask(command) {
    const answer = this.nextJson();
    this.send(JSON.stringify(command));
    return answer;
  }

  /** Closes its standard input: an agent then has nothing left to do. */
  endInput() {
    this.child.stdin.end();
  }

  kill(signal) {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Blocked flock waiters on `file`, as the kernel lists them in /proc/locks. */
export function blockedWaiters(file) {
  const { ino } = fs.statSync(file, { bigint: true });
  return fs.readFileSync('/proc/locks', 'utf8').split('\n')
    .filter((line) => line.includes('->') && line.includes('FLOCK') && line.trim().endsWith(`:${ino} 0 EOF`)).length;
}

/** Resolves once the kernel lists `count` waiters blocked on `file`: a barrier on kernel evidence. */
export async function untilBlocked(file, count) {
  while (blockedWaiters(file) !== count) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * The Linux x64 glibc addon this checkout's Node loads, as node-gyp-build finds it: build/Release
 * after `npm ci` or `npm run build`, else the prebuild (`npm run prebuild` leaves only that).
 */
export function hostAddon(root) {
  return createRequire(import.meta.url)('node-gyp-build').resolve(root);
}
