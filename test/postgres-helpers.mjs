// Shared by the PostgreSQL suites: one real server per suite, agents (test/fixtures/postgres-agent.mjs)
// that hold and wait for fleet locks in processes of their own, and looks at the server's state.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { here } from './helpers.mjs';
import { PostgresServer, skipReason } from './fixtures/postgres-server.mjs';

export { PostgresServer, ROLES, skipReason } from './fixtures/postgres-server.mjs';

/** Why this suite skips (no server binary installed), or false. */
export const skip = skipReason();

/** Starts a server for the suite (node:test's before), destroyed in after(). */
export function suiteServer({ before, after }, options) {
  const holder = { server: null };
  before(async () => {
    holder.server = await PostgresServer.start(options);
  }, { timeout: 60_000 });
  after(() => holder.server?.destroy());
  return holder;
}

/** A child process running postgres-agent.mjs; killed when the test ends. */
export class FleetAgent {
  constructor(t, connection, options, spawnOptions = {}) {
    const args = [path.join(here, 'fixtures', 'postgres-agent.mjs'), connection, JSON.stringify(options ?? {})];
    const command = spawnOptions.netns === undefined ? [process.execPath, ...args] : ['ip', 'netns', 'exec', spawnOptions.netns, process.execPath, ...args];
    this.child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    this.queued = [];
    this.waiting = [];
    this.lost = [];
    this.lostWaiters = [];
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited.then(({ code, signal }) => {
      for (const waiter of this.waiting.splice(0)) waiter.reject(new Error(`agent exited (${code ?? signal}) before answering`));
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const message = JSON.parse(line);
      if (message.lost !== undefined) {
        this.lost.push(message);
        for (const resolve of this.lostWaiters.splice(0)) resolve(message);
        return;
      }
      const waiter = this.waiting.shift();
      if (waiter) waiter.resolve(message);
      else this.queued.push(message);
    });
    t.after(() => this.kill('SIGKILL'));
  }

  static async start(t, connection, options, spawnOptions) {
    const agent = new FleetAgent(t, connection, options, spawnOptions);
    const hello = await agent.next();
    if (!hello.ready) throw new Error(`agent said ${JSON.stringify(hello)}`);
    agent.pid = hello.pid;
    return agent;
  }

  next() {
    if (this.queued.length > 0) return Promise.resolve(this.queued.shift());
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Sends a command and resolves with its answer. */
  ask(command) {
    const answer = this.next();
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    return answer;
  }

  /** Sends a command whose answer comes later (a wait): returns the answer's promise. */
  send(command) {
    return this.ask(command);
  }

  /** Resolves with the next (or a past) 'lost' report. */
  nextLost() {
    if (this.lost.length > 0) return Promise.resolve(this.lost.shift());
    return new Promise((resolve) => this.lostWaiters.push(resolve));
  }

  kill(signal) {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Runs `fn` with a pg client connected to `url`, and ends it. */
export async function withClient(url, fn) {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Sessions of `role` other than the asking one, and advisory locks held or awaited, as the superuser sees them. */
export function serverState(server, role) {
  const sessions = Number(server.sql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${role}'`));
  const advisory = Number(server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"));
  return { sessions, advisory };
}

/** Resolves once `check()` is true, looking every 5 ms for at most `timeoutMs` (a bounded wait for state the server shows). */
export async function until(check, timeoutMs = 10_000, what = 'the condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** ms between two process.hrtime.bigint() readings given as strings or bigints. */
export function msBetween(from, to) {
  return Number(BigInt(to) - BigInt(from)) / 1e6;
}
