// The application's signal handlers stay the application's: a wait is ended with a signal
// nobody else handles, a handler found in place is never replaced, and a handler installed over
// pidguard's later (even with SA_RESTART) never makes a cancel spin on the JavaScript thread.
// Real-time handlers cannot be installed from JavaScript, so a test-only addon stands for the
// application's native code (test/fixtures/sigaction-addon.c, built here with the C compiler
// the addon itself needs).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { here, root, run, startAgents, tempDir } from './helpers.mjs';

const linux = process.platform === 'linux';
const pidguardEntry = fileURLToPath(import.meta.resolve('pidguard'));
const options = { skip: !linux && 'real-time signals and /proc are Linux', timeout: 60_000 };

function buildFixture(t) {
  const output = path.join(tempDir(t), 'sigaction.node');
  const built = run(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-I', path.join(root, 'node_modules', 'node-api-headers', 'include'),
    '-o', output, path.join(here, 'fixtures', 'sigaction-addon.c')]);
  assert.equal(built.status, 0, built.stderr);
  return output;
}

// What the child runs: `steps` is its body; it prints one JSON line and exits.
const prelude = `
  const fs = require('node:fs');
  const app = { exports: {} };
  process.dlopen(app, process.argv[1]);
  const { acquire } = require(${JSON.stringify(pidguardEntry)});
  const file = process.argv[2];
  const signals = () => Array.from({ length: app.exports.rtmax() - app.exports.rtmin() + 1 }, (_, i) => app.exports.rtmin() + i);
  const waitThreads = () => fs.readdirSync('/proc/self/task')
    .filter((tid) => { try { return fs.readFileSync('/proc/self/task/' + tid + '/comm', 'utf8') === 'pidguard-wait\\n'; } catch { return false; } }).length;
  async function timedWait() {
    const started = performance.now();
    let maxGap = 0, last = performance.now();
    const ticker = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 5);
    const code = await acquire(file, { wait: 100 }).then(() => 'acquired', (error) => error.code);
    clearInterval(ticker);
    return { code, ms: Math.round(performance.now() - started), maxGapMs: Math.round(Math.max(maxGap, performance.now() - last)) };
  }
`;

/**
 * Runs `steps` in a child while an agent holds `file`, and returns what the child printed. The
 * holder lets go only after the child has answered (or after 20 s, for a child stuck until then,
 * which the assertion on `answeredWhileHeld` then reports).
 */
async function whileHeld(t, steps) {
  const fixture = buildFixture(t);
  const file = path.join(tempDir(t), 'app.pid');
  const [holder] = await startAgents(t, 1);
  await holder.ask({ op: 'acquire', path: file });
  const child = spawn(process.execPath, ['-e', `${prelude}(async () => { ${steps} })().then((r) => { console.log(JSON.stringify(r)); process.exit(0); });`, fixture, file],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const answer = new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve));
  const deadline = new Promise((resolve) => setTimeout(resolve, 20_000, null).unref());
  const line = await Promise.race([answer, deadline]);
  await holder.ask({ op: 'release' });
  const result = JSON.parse(line ?? (await answer));
  return { ...result, answeredWhileHeld: line !== null };
}

test("a handler the application installed first is never replaced; pidguard takes a free signal", options, async (t) => {
  const result = await whileHeld(t, `
    const theirs = app.exports.rtmin() + 5; // the signal older pidguard took for itself
    app.exports.install(theirs, false);
    const wait = await timedWait();
    return { wait, theirsKept: app.exports.isInstalled(theirs), threadsAfter: waitThreads() };`);
  assert.equal(result.wait.code, 'ELOCKED');
  assert.equal(result.theirsKept, true, "the application's handler was replaced");
  // Cancelled by a signal of pidguard's own: its thread is gone, not left waiting for the grant.
  assert.equal(result.threadsAfter, 0);
});

test('with every real-time signal handled by the application, waits still end on time and no handler is touched', options, async (t) => {
  const result = await whileHeld(t, `
    for (const signo of signals()) app.exports.install(signo, false);
    const wait = await timedWait();
    for (let i = 0; i < 20; i += 1) await acquire(file, { wait: 5 }).catch(() => {});
    return { wait, allKept: signals().every((signo) => app.exports.isInstalled(signo)), threadsAfter: waitThreads() };`);
  assert.equal(result.answeredWhileHeld, true);
  assert.equal(result.wait.code, 'ELOCKED');
  assert.equal(result.allKept, true);
  // With no signal to end it, the wait polls instead of blocking, so a cancel ends its thread
  // too: timed-out waits in a retry loop do not pile up threads and descriptors.
  assert.equal(result.threadsAfter, 0);
});

test('an SA_RESTART handler installed over pidguard\'s later never freezes the event loop on a cancel', options, async (t) => {
  const result = await whileHeld(t, `
    const first = await timedWait(); // pidguard has chosen its signal now
    for (const signo of signals()) app.exports.install(signo, true);
    const second = await timedWait();
    return { first, second };`);
  assert.equal(result.answeredWhileHeld, true, 'the cancel spun until the holder let go');
  assert.equal(result.first.code, 'ELOCKED');
  assert.equal(result.second.code, 'ELOCKED');
  // The event loop ran throughout: no gap anywhere near the holder's hold.
  assert.ok(result.second.maxGapMs < 5_000, `the event loop stalled for ${result.second.maxGapMs} ms`);
});
