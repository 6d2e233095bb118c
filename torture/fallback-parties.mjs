// What the fallback's torture scenarios share: parties (torture/party.mjs) spoken to in JSON,
// optionally under strace with system calls slowed down, and a zombie process to record.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, here } from './lib.mjs';

/**
 * Starts torture/party.mjs, under `strace` with each of `slowCalls` delayed by `delayMs` on entry
 * when asked (a process descheduled, stopped or on a slow disk at that very call). Resolves once
 * it has loaded pidguard.
 */
export async function startParty({ slowCalls = [], delayMs = 0, env = {} } = {}) {
  const node = [process.execPath, path.join(here, 'party.mjs')];
  const command = slowCalls.length === 0 ? node : ['strace', '-f', '-qq', '-o', '/dev/null', '-e', `trace=${slowCalls.join(',')}`,
    '-e', `inject=${slowCalls.join(',')}:delay_enter=${delayMs * 1000}`, ...node];
  const proc = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const queued = [];
  const waiting = [];
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    const message = JSON.parse(line);
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(message);
    else queued.push(message);
  });
  exited.then(({ code, signal }) => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`a party exited (${code ?? signal}) before answering`));
  });
  const next = () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject })));
  const hello = await next();
  check(hello.ready === true, `a party said ${JSON.stringify(hello)}`);
  return {
    pid: hello.pid,
    exited,
    /** Sends a command; `answer` resolves with the reply. */
    send(command) {
      const answer = next();
      proc.stdin.write(`${JSON.stringify(command)}\n`);
      return answer;
    },
    kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

function processState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/**
 * A zombie: a process that has ended and that its parent (a `sleep` that never waits) does not
 * reap, as a command is between its death and pidguard's wait. `pid` is the zombie's; `end()`
 * ends its parent, which takes it away.
 */
export async function startZombie() {
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = Number(await new Promise((resolve) => parent.stdout.once('data', (data) => resolve(String(data).trim()))));
  for (let i = 0; processState(pid) !== 'Z'; i += 1) {
    check(i < 2000, `process ${pid} did not become a zombie`);
    await sleep(5);
  }
  return { pid, end: () => parent.kill('SIGKILL') };
}

/** Resolves once a file whose name includes one of `markers` appears in `dir`. */
export async function appears(dir, markers, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (fs.readdirSync(dir).some((name) => markers.some((marker) => name.includes(marker)))) return;
    check(Date.now() < deadline, `nothing named ${markers.join(' or ')} appeared in ${dir}`);
    await sleep(2);
  }
}
