// pidguard in Bun and Deno (and in Node, the control), with the addon this checkout built: the
// kernel lock, a storm of 8 copies, waits and aborts, and the PID file removed however the process
// ends. Every check runs in real processes of the runtime under test, in a throwaway project where
// pidguard is installed in node_modules as npm would leave it. `npm run test:runtimes`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject } from '../../scripts/runtimes/project.mjs';
import { checkJournal } from '../../torture/storm.mjs';
import { flockCanTake, root } from '../helpers.mjs';
import { hostAddon, LineChild, runtime, runtimeNames, untilBlocked } from './runtimes.mjs';

const TIMEOUT = { timeout: 60_000 };
const here = path.dirname(new URL(import.meta.url).pathname);
let project;
let scratch;

before(() => {
  const addon = hostAddon(root);
  console.log(`the addon: ${path.relative(root, addon)}`);
  project = makeProject(fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-runtimes-')), {
    addons: { [path.relative(root, addon)]: addon }, // where it is here, so that it is found the same way
    scripts: [path.join(here, 'fixtures', 'agent.mjs'), path.join(root, 'torture', 'storm-worker.mjs')],
  });
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-runtimes-files-'));
});
after(() => {
  fs.rmSync(project, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A fresh path in the scratch directory. */
let counter = 0;
const freshPath = (name) => path.join(scratch, `${counter++}-${name}`);

for (const name of runtimeNames) {
  describe(`in ${name}`, () => {
    let rt;
    before(() => {
      rt = runtime(name);
      console.log(rt.label);
    });

    /** An agent in this runtime, once it has loaded pidguard and said so. */
    const agent = async (t, argv = rt.argv('agent.mjs')) => {
      const child = new LineChild(t, argv, { cwd: project });
      const hello = await child.nextJson();
      assert.deepEqual(hello, { ready: true, pid: child.pid }, `the agent did not start: ${child.stderr}`);
      return child;
    };

    test('the kernel lock: taken, refused to a second process naming the holder, released with its file', TIMEOUT, async (t) => {
      const file = freshPath('service.pid');
      const holder = await agent(t);
      assert.deepEqual(await holder.ask({ op: 'acquire', path: file }), { ok: true, pid: holder.pid, mode: 'kernel' });
      assert.equal(fs.readFileSync(file, 'utf8'), `${holder.pid}\n`);
      assert.equal(flockCanTake(file), false, 'flock(1) must find the file locked');

      const second = await agent(t);
      const refused = await second.ask({ op: 'acquire', path: file });
      assert.deepEqual([refused.ok, refused.code, refused.pid], [false, 'ELOCKED', holder.pid]);
      assert.match(refused.message, new RegExp(`already running as PID ${holder.pid}\\b`));

      assert.deepEqual(await holder.ask({ op: 'release' }), { ok: true });
      assert.equal(fs.existsSync(file), false, 'release removes the PID file');
      assert.equal(flockCanTake(file), true);
    });

    test('a storm of 8 copies started together: exactly one winner each round, and the journal agrees', TIMEOUT, async (t) => {
      const file = freshPath('storm.pid');
      const journalFile = freshPath('journal');
      const journal = fs.openSync(journalFile, 'a');
      t.after(() => fs.closeSync(journal));
      const workers = Array.from({ length: 8 }, () => new LineChild(t, rt.argv('storm-worker.mjs').concat(file, journalFile), { cwd: project }));
      // The barrier: every copy has loaded pidguard before any is told to go.
      for (const worker of workers) assert.equal(await worker.next(), 'ready', worker.stderr);
      const rounds = 3;
      for (let round = 1; round <= rounds; round += 1) {
        fs.writeSync(journal, `round ${round}\n`);
        for (const worker of workers) worker.send('go');
        const outcomes = await Promise.all(workers.map((worker) => worker.next()));
        const winners = workers.filter((_, i) => outcomes[i] === 'won');
        assert.equal(winners.length, 1, `round ${round}: ${outcomes.join(', ')}`);
        assert.equal(outcomes.filter((outcome) => outcome === 'lost').length, 7, `round ${round}: ${outcomes.join(', ')}`);
        assert.equal(fs.readFileSync(file, 'utf8'), `${winners[0].pid}\n`);
        winners[0].send('release');
        assert.equal(await winners[0].next(), 'released');
      }
      const lines = fs.readFileSync(journalFile, 'utf8').split('\n').filter(Boolean);
      // One holder at a time, and every refusal names the process that held the lock then.
      assert.deepEqual(checkJournal(lines), { rounds, enters: rounds, refusals: rounds * 7 });
      assert.equal(fs.existsSync(file), false);
    });

    test('a wait is granted the moment the holder lets go', TIMEOUT, async (t) => {
      const file = freshPath('handoff.pid');
      const [holder, waiter] = await Promise.all([agent(t), agent(t)]);
      assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
      assert.deepEqual(await waiter.ask({ op: 'acquireAsync', path: file, options: { wait: true } }), { waiting: true });
      await untilBlocked(file, 1);
      assert.deepEqual(await holder.ask({ op: 'release' }), { ok: true });
      assert.deepEqual(await waiter.nextJson(), { ok: true, pid: waiter.pid, mode: 'kernel' });
      assert.equal(fs.readFileSync(file, 'utf8'), `${waiter.pid}\n`);
      assert.deepEqual(await waiter.ask({ op: 'release' }), { ok: true });
    });

    test('an AbortSignal ends a wait with its reason, and the wait takes nothing afterwards', TIMEOUT, async (t) => {
      const file = freshPath('abort.pid');
      const [holder, waiter] = await Promise.all([agent(t), agent(t)]);
      assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
      assert.deepEqual(await waiter.ask({ op: 'acquireAsync', path: file, options: { wait: true }, abortable: true }), { waiting: true });
      await untilBlocked(file, 1);
      // Two answers, in either order: the abort command's, and the wait's end.
      waiter.send(JSON.stringify({ op: 'abort' }));
      const answers = [await waiter.nextJson(), await waiter.nextJson()];
      const acknowledged = answers.findIndex((answer) => answer.ok === true && Object.keys(answer).length === 1);
      assert.notEqual(acknowledged, -1, JSON.stringify(answers));
      const outcome = answers[1 - acknowledged];
      assert.deepEqual([outcome.ok, outcome.aborted, outcome.message], [false, true, 'the test aborted the wait']);
      await untilBlocked(file, 0); // the kernel no longer lists the wait
      assert.equal(fs.readFileSync(file, 'utf8'), `${holder.pid}\n`);
      assert.deepEqual(await holder.ask({ op: 'release' }), { ok: true });
      assert.equal(fs.existsSync(file), false, 'nobody took the lock after the holder let go');
      assert.equal(flockCanTake(file), true);
    });

    const endings = [
      { how: 'a natural exit (the event loop runs dry)', end: (child) => child.endInput(), expect: { code: 0, signal: null } },
      { how: 'process.exit()', end: (child) => child.send(JSON.stringify({ op: 'exit', code: 3 })), expect: { code: 3, signal: null } },
      { how: 'SIGTERM', end: (child) => child.kill('SIGTERM'), expect: { code: null, signal: 'SIGTERM' } },
      {
        how: 'an uncaught exception',
        end: (child) => child.send(JSON.stringify({ op: 'throw' })),
        expect: { code: 1, signal: null },
        // Deno ends the process on an uncaught exception without emitting 'exit' (it dispatches
        // an 'error' event on globalThis, which a listener may cancel: releasing there could
        // drop the lock of a process that lives on). Like a SIGKILL, the file stays; the kernel
        // lock goes with the process, and the next holder overwrites the file.
        todo: name === 'deno' && 'Deno emits no exit event on an uncaught exception: the PID file stays, as after SIGKILL',
      },
    ];
    for (const { how, end, expect, todo = false } of endings) {
      test(`the PID file is removed on ${how}`, { ...TIMEOUT, todo }, async (t) => {
        const file = freshPath('exit.pid');
        const holder = await agent(t);
        assert.equal((await holder.ask({ op: 'acquire', path: file })).ok, true);
        assert.equal(fs.readFileSync(file, 'utf8'), `${holder.pid}\n`);
        end(holder);
        assert.deepEqual(await holder.exited, expect, holder.stderr);
        assert.equal(fs.existsSync(file), false, `the PID file was left behind after ${how}`);
      });
    }
  });
}


if (runtimeNames.includes('deno')) {
  describe("Deno's permissions", () => {
    let deno;
    before(() => {
      deno = runtime('deno');
    });
    const agentWith = async (t, permissions) => {
      const child = new LineChild(t, deno.argv('agent.mjs', permissions), { cwd: project });
      assert.deepEqual(await child.nextJson(), { ready: true, pid: child.pid }, child.stderr);
      return child;
    };

    test('-A: the kernel lock', TIMEOUT, async (t) => {
      const file = freshPath('all.pid');
      const holder = await agentWith(t, ['-A']);
      assert.deepEqual(await holder.ask({ op: 'acquire', path: file }), { ok: true, pid: holder.pid, mode: 'kernel' });
      assert.equal(flockCanTake(file), false);
      assert.deepEqual(await holder.ask({ op: 'release' }), { ok: true });
      assert.equal(fs.existsSync(file), false);
    });

    test('--allow-ffi --allow-read --allow-write, and nothing else: the kernel lock', TIMEOUT, async (t) => {
      const file = freshPath('least.pid');
      const holder = await agentWith(t, ['--allow-ffi', '--allow-read', '--allow-write']);
      const taken = await holder.ask({ op: 'acquire', path: file });
      assert.deepEqual(taken, { ok: true, pid: holder.pid, mode: 'kernel' }, JSON.stringify(taken));
      assert.equal(flockCanTake(file), false);
      assert.deepEqual(await holder.ask({ op: 'release' }), { ok: true });
      assert.equal(fs.existsSync(file), false);
    });

    test('without --allow-ffi: ERR_PIDGUARD_NATIVE naming --allow-ffi, and no lock of another kind', TIMEOUT, async (t) => {
      const file = freshPath('noffi.pid');
      const holder = await agentWith(t, ['--allow-read', '--allow-write', '--allow-env']);
      const refused = await holder.ask({ op: 'acquire', path: file });
      assert.deepEqual([refused.ok, refused.code], [false, 'ERR_PIDGUARD_NATIVE'], JSON.stringify(refused));
      assert.match(refused.message, /--allow-ffi/);
      assert.doesNotMatch(refused.message, /--allow-env/, 'pidguard needs no --allow-env');
      assert.equal(fs.existsSync(file), false, 'no PID file: no fallback lock was taken');
    });
  });
}
