// Running the pidguard command as users do: the installed executable, from bash.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { here, root, run, tempDir } from './helpers.mjs';

/**
 * A directory to work in, with `pidguard` on PATH as npm installs it (a link to bin/pidguard.js),
 * and the PID file path the tests use. The scripts startScript() starts with it are killed before
 * the directory is removed: a `pidguard run` left running would take its removed PID file again.
 */
export function cliSetup(t) {
  const cleanups = [];
  t.after(() => {
    for (const cleanup of cleanups.reverse()) cleanup();
  });
  const dir = tempDir(t);
  const binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync(path.join(root, 'bin', 'pidguard.js'), path.join(binDir, 'pidguard'));
  const env = { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH}` };
  delete env.NODE_DEBUG;
  return { dir, env, pidfile: path.join(dir, 'app.pid'), cleanups };
}

/** Runs a bash script in the setup's directory to completion. */
export function sh(setup, script, options = {}) {
  return run('bash', ['-c', script], { cwd: setup.dir, env: setup.env, ...options });
}

/**
 * Starts a bash script in a process group of its own (killed whole when `t` ends) and gives its
 * output a line at a time: `nextLine()` is the barrier the tests wait on. `exited` resolves when
 * the script's process ends, `closed` once its output has too.
 */
export function startScript(t, setup, script) {
  const child = spawn('bash', ['-c', script], {
    cwd: setup.dir,
    env: setup.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const cleanup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    child.stdout.destroy();
    child.stderr.destroy();
  };
  if (setup.cleanups) setup.cleanups.push(cleanup);
  else t.after(cleanup);
  let stderr = '';
  child.stderr.on('data', (data) => {
    stderr += data;
  });
  const queued = [];
  const waiting = [];
  const lines = readline.createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(line);
    else queued.push(line);
  });
  // Whoever still waits for a line once stdout has ended will get none. Not on 'exit': a line
  // printed just before the exit may not have been read yet then.
  let ended = false;
  const noLine = () => new Error(`script's output ended before that line; stderr: ${stderr}`);
  lines.on('close', () => {
    ended = true;
    for (const waiter of waiting.splice(0)) waiter.reject(noLine());
  });
  // 'exit', not 'close': the script's process has ended, though a command it left running (as
  // the tests of a killed wrapper do) may still hold its output open. Read stderr() after
  // `closed` for all of it.
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const closed = new Promise((resolve) => child.once('close', resolve));
  return {
    child,
    exited,
    closed,
    stderr: () => stderr,
    nextLine() {
      if (queued.length > 0) return Promise.resolve(queued.shift());
      if (ended) return Promise.reject(noLine());
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

/**
 * Resolves once the kernel lists a process blocked waiting for a flock on `file` (a "->" line of
 * /proc/locks for its inode): proof that a waiter is waiting, not a guess that it has had time to.
 */
export async function blockedOn(file, timeoutMs = 15_000) {
  const { ino } = fs.statSync(file);
  const deadline = Date.now() + timeoutMs;
  const pattern = new RegExp(`->\\s+FLOCK\\s.*:${ino}\\s`);
  while (Date.now() < deadline) {
    if (fs.readFileSync('/proc/locks', 'utf8').split('\n').some((line) => pattern.test(line))) return;
    await sleep(10);
  }
  throw new Error(`nobody blocked on ${file} within ${timeoutMs} ms`);
}

/** Resolves once `file` holds `count` lines. */
export async function linesIn(file, count, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.length >= count) return lines;
    if (Date.now() > deadline) throw new Error(`${file} has ${lines.length} of ${count} lines after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * Resolves once `file` holds exactly `text`. pidguard run records the command's PID just after
 * starting it, so the command itself may look before that: this waits for the record, bounded.
 */
export async function fileHolds(file, text, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let seen;
  while (Date.now() < deadline) {
    seen = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (seen === text) return;
    await sleep(5);
  }
  throw new Error(`${file} holds ${JSON.stringify(seen)}, not ${JSON.stringify(text)}, after ${timeoutMs} ms`);
}

/** Why a FUSE file system cannot be mounted here, or false when it can (as fallback.test.mjs asks). */
export const fuseSkip = process.platform !== 'linux' ? 'FUSE on Linux'
  : process.getuid() !== 0 ? 'mounting FUSE needs root'
  : !fs.existsSync('/dev/fuse') ? 'no /dev/fuse'
  : run('/usr/bin/python3', ['-c', 'import fusepy']).status !== 0 ? "no python3-fusepy (Debian's package; .ci/run installs it)"
  : false;

/**
 * Mounts test/fixtures/nolock-fs.py, a file system that refuses flock, over a new directory,
 * unmounted when `t` ends (the same as fallback.test.mjs's); resolves with the mount point.
 */
export async function mountNoLockFs(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-fuse-'));
  const backing = path.join(dir, 'backing');
  const mount = path.join(dir, 'mnt');
  fs.mkdirSync(backing);
  fs.mkdirSync(mount);
  const daemon = spawn('/usr/bin/python3', [path.join(here, 'fixtures', 'nolock-fs.py'), backing, mount], { stdio: ['ignore', 'pipe', 'inherit'] });
  // One hook, in this order: the directory cannot be removed while mounted.
  t.after(() => {
    run('umount', ['-l', mount]);
    daemon.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await new Promise((resolve, reject) => {
    daemon.stdout.once('data', resolve);
    daemon.once('exit', (code) => reject(new Error(`nolock-fs exited ${code}`)));
  });
  return mount;
}
