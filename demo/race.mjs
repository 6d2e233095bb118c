// npm run demo: the duplicate-start race, live. A crowd of copies of one service start against
// one PID file at the same instant, first with the common read-check-write singleton, then with
// pidguard; then the pidguard winner is SIGKILLed and the next start succeeds at once.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { acquireSync, readPid } from 'pidguard';

const COPIES = Number(process.env.COPIES ?? 16);
const contender = path.join(path.dirname(fileURLToPath(import.meta.url)), 'contender.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-demo-'));
const started = [];

function launch(style, file) {
  const child = spawn(process.execPath, [contender, style, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  started.push(child);
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, next: async () => (await lines.next()).value };
}

/** Starts COPIES copies, waits until all are loaded, then releases them together. */
async function race(style, file) {
  const copies = Array.from({ length: COPIES }, () => launch(style, file));
  for (const copy of copies) await copy.next(); // "ready": the barrier
  for (const copy of copies) copy.child.stdin.write('go\n');
  const outcomes = await Promise.all(copies.map(async (copy) => ({ ...JSON.parse(await copy.next()), copy })));
  return outcomes;
}

function stopAll(outcomes) {
  for (const { copy, started: running } of outcomes) if (running) copy.child.stdin.write('stop\n');
}

try {
  console.log(`${COPIES} copies of one service start at the same instant against one PID file.\n`);

  const naive = await race('naive', path.join(dir, 'naive.pid'));
  const naiveWinners = naive.filter((o) => o.started);
  console.log('1. The common singleton: read the PID file, check that PID, write our own.');
  console.log(`   ${naiveWinners.length} of ${COPIES} copies started (PIDs ${naiveWinners.map((o) => o.pid).join(', ')}).`);
  console.log(naiveWinners.length > 1
    ? '   Between the read and the write, other copies did the same: the check-then-write race.'
    : '   This time only one got through; the window is still there (run again).');
  stopAll(naive);

  const file = path.join(dir, 'service.pid');
  const guarded = await race('pidguard', file);
  const winners = guarded.filter((o) => o.started);
  console.log(`\n2. pidguard: a kernel lock (${process.platform === 'win32' ? 'LockFileEx' : 'flock'}) on the open PID file.`);
  console.log(`   ${winners.length} of ${COPIES} copies started: PID ${winners.map((o) => o.pid).join(', ')}. The others were told:`);
  for (const { pid, told } of guarded.filter((o) => !o.started)) console.log(`   [${pid}] ${told}`);

  const [winner] = winners;
  winner.copy.child.kill('SIGKILL');
  await new Promise((resolve) => winner.copy.child.once('exit', resolve));
  console.log(`\n3. The winner, PID ${winner.pid}, is ${process.platform === 'win32' ? 'terminated' : 'SIGKILLed'}: no cleanup runs, and the PID file still says ${readPid(file)}.`);
  acquireSync(path.join(dir, 'warm-up.pid')).release(); // load the addon first: time the lock, not the load
  const before = performance.now();
  const lock = acquireSync(file);
  const took = performance.now() - before;
  console.log(`   The kernel freed the lock as the process died: the next start (PID ${process.pid}) took it in ${took.toFixed(2)} ms,`);
  console.log(`   with no stale-PID guessing, and the file now says ${readPid(file)}.`);
  lock.release();
  stopAll(guarded);
} finally {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}
