// npm run bench: pidguard beside its peers and the system-call floor, every row measured in this
// one run, printed as one table (medians and spread, and each median over pidguard's in the same
// scenario). Bounded to a few minutes on 2 cores. ROUNDS=n sets the handoff and cancel counts
// (default 200); CYCLE_MS the time each in-process cycle task gets (default 1800). The fleet rows
// (pidguard/postgres) start a PostgreSQL server of their own; they are left out, saying why,
// where no server binary is installed. The table goes into docs/performance.md too (report.mjs).
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquire, acquireSync } from 'pidguard';
import { contention } from './contention.mjs';
import { cycleRows, fileSystemName } from './cycle.mjs';
import { fleetRows } from './fleet.mjs';
import { crashRecovery, handoff } from './handoff.mjs';
import { untilBlocked } from './kernel-waiters.mjs';
import { requireAndFirstLockCost, requireCost } from './load.mjs';
import { plainCycleRows } from './plain-cycle.mjs';
import { skipReason as postgresSkipReason } from '../test/fixtures/postgres-server.mjs';
import { benchHeader, report } from './report.mjs';
import { row, summarize } from './stats.mjs';
import { readFileLatency, readFileWithWaits } from './threadpool.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 200);
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-bench-'));
let fileCount = 0;
const freshFile = (name) => path.join(workDir, `${(fileCount += 1)}-${name.replace(/\W+/g, '-')}`);

async function cancelLatency(rounds) {
  const file = freshFile('cancel');
  const holder = acquireSync(file);
  const samples = [];
  for (let round = 0; round < rounds; round += 1) {
    const controller = new AbortController();
    const pending = acquire(file, { wait: true, signal: controller.signal }).catch(() => process.hrtime.bigint());
    await untilBlocked(file);
    const abortedAt = process.hrtime.bigint();
    controller.abort();
    samples.push(Number((await pending) - abortedAt) / 1e6);
  }
  holder.release();
  return summarize(samples);
}

function progress(what) {
  process.stderr.write(`bench: ${what}\n`);
}

const rows = [];
try {
  const tmpfs = '/dev/shm';
  const dirs = [os.tmpdir()];
  if (fs.existsSync(tmpfs) && fileSystemName(tmpfs) === 'tmpfs' && fileSystemName(os.tmpdir()) !== 'tmpfs') dirs.push(tmpfs);
  for (const dir of dirs) {
    progress(`uncontended cycles in ${dir}`);
    rows.push(...(await cycleRows(dir, workDir)));
    progress(`plain lock() cycles in ${dir}`);
    rows.push(...(await plainCycleRows(dir, workDir)));
  }

  const handoffs = [
    ['pidguard', ROUNDS, 'acquire(path, { wait: true })'],
    ['fs-native-extensions', ROUNDS, 'waitForLock'],
    ['proper-lockfile (retries 1000, 1-10 ms)', Math.ceil(ROUNDS / 2), 'retries: { retries: 1000, minTimeout: 1, maxTimeout: 10 }'],
    ['proper-lockfile (retries: 10)', 6, 'about a second a handoff: few rounds'],
    ['lockfile (wait 60 s)', 30, 'polls every 100 ms (its default pollPeriod)'],
  ];
  for (const [name, rounds, note] of handoffs) {
    progress(`handoff: ${name}`);
    rows.push(row('handoff: holder releases until a waiting process holds', name, await handoff(name, freshFile(name), rounds), 'ms', note));
  }

  progress('cancel');
  rows.push(row('cancel a pending wait: abort() until acquire() rejects', 'pidguard', await cancelLatency(ROUNDS), 'ms', 'fs-native-extensions and fs-ext cannot cancel a wait'));

  const crashes = [
    ['pidguard', 50, 'the kernel frees the lock as the holder dies'],
    ['fs-native-extensions', 50, ''],
    ['proper-lockfile (defaults, stale 10 s)', 2, "its default stale time"],
    ['lockfile (wait 60 s, stale 10 s)', 2, 'without opts.stale, never'],
  ];
  const crashScenario = 'crash recovery: holder SIGKILLed until the waiter holds';
  for (const [name, rounds, note] of crashes) {
    progress(`crash recovery: ${name}`);
    rows.push(row(crashScenario, name, await crashRecovery(name, freshFile(name), rounds), 'ms', note));
  }
  progress('crash recovery: flock(1) holder');
  rows.push(row(crashScenario, 'pidguard waiting, flock(1) holding', await crashRecovery('pidguard', freshFile('c-holder'), 50, true), 'ms',
    'a small C holder: the kernel frees locks after tearing down the dying process, longer for Node'));

  const contenders = [
    ['pidguard', 1000],
    ['fs-native-extensions', 1000],
    ['fs-ext', 1000],
    ['proper-lockfile (retries 1000, 1-10 ms)', 100],
    ['lockfile (wait 60 s)', 50],
  ];
  for (const [name, count] of contenders) {
    progress(`contention: ${name}`);
    const { summary, throughput } = await contention(name, freshFile(name), 8, count);
    rows.push(row('contention, 8 processes: wait per acquisition', name, summary, 'ms', `8 x ${count}; ${Math.round(throughput)} locks/s; max: the longest wait`));
  }

  progress('threadpool');
  const idle = await readFileLatency();
  const poolScenario = 'fs.promises.readFile with 16 waits pending';
  const poolRows = [];
  for (const name of ['pidguard', 'fs-native-extensions', 'fs-ext']) {
    const { summary, starved } = await readFileWithWaits(name, freshFile(name));
    poolRows.push(row(poolScenario, name, summary, 'ms', starved ? 'starved: a read took over 5 s, until the waits ended' : ''));
  }
  rows.push(...poolRows, row(poolScenario, 'no waits pending', idle.summary, 'ms', 'for comparison'));

  progress('loading');
  const loadScenario = 'require() in a fresh process';
  rows.push(row(loadScenario, 'pidguard', requireCost('pidguard', 20), 'ms', 'the addon loads at the first lock'));
  rows.push(row(loadScenario, 'pidguard, require and first acquireSync + release', requireAndFirstLockCost(20), 'ms', 'includes loading the addon'));
  for (const name of ['proper-lockfile', 'lockfile', 'fs-native-extensions', 'fs-ext']) rows.push(row(loadScenario, name, requireCost(name, 20), 'ms'));

  const noServer = postgresSkipReason();
  if (noServer) progress(`fleet rows left out: ${noServer}`);
  else rows.push(...(await fleetRows({ rounds: Math.min(ROUNDS, 100), progress })));

  const page = report(benchHeader(dirs.map((dir) => `${dir} on ${fileSystemName(dir)}`).join(', ')), rows);
  if (page !== null) progress(`the table is written into ${page}`);
} finally {
  fs.rmSync(workDir, { recursive: true, force: true });
}
