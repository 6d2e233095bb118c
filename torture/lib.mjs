// What the torture scenarios share: child processes spoken to a line at a time, a scratch
// directory, and the independent journal that every holder writes to with O_APPEND.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));

/** A scratch directory, removed by `cleanup()`. */
export function scratch(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pidguard-torture-${name}-`));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A Node child running `script`, whose stdout lines are read with next(). */
export function child(script, args, env = {}) {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const queued = [];
  const waiting = [];
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(line);
    else queued.push(line);
  });
  exited.then(({ code, signal }) => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`${path.basename(script)} ${proc.pid} exited (${code ?? signal})`));
  });
  return {
    proc,
    pid: proc.pid,
    exited,
    next: () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject }))),
    send: (line) => proc.stdin.write(`${line}\n`),
    kill: (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}

/** Resolves once process `pid` is stopped (state T in /proc/<pid>/stat), as a failpoint leaves it. */
export async function stopped(pid, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
    await sleep(1);
  }
  throw new Error(`process ${pid} did not stop at its failpoint`);
}

/** Appends lines to an O_APPEND journal: each write lands whole and in one order for all writers. */
export function journalWriter(file) {
  const fd = fs.openSync(file, 'a');
  return { write: (line) => fs.writeSync(fd, `${line}\n`), close: () => fs.closeSync(fd) };
}

export function readJournal(file) {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Throws with `message` unless `condition`. */
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** The open descriptors of this process. */
export function descriptorCount() {
  return fs.readdirSync('/proc/self/fd').length;
}

export function random(n) {
  return Math.floor(Math.random() * n);
}
