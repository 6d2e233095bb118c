// The explorer behind the fallback's exhaustive checker (torture/explore.mjs, used by
// torture/interleavings.mjs) checked on toy locks: it must find the two holders of a lock that
// looks before it creates, find none where the create is exclusive, and explore exactly as many
// interleavings as there are orders of dependent steps. The fallback itself is checked by the
// torture scenario "every interleaving of the fallback's steps" (test/torture.test.mjs runs it).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { explore } from '../torture/explore.mjs';
import { tempDir } from './helpers.mjs';

/** A system of processes, each a generator yielding { op, name } before each call on `dir`. */
function toySystem(dir, scripts, { invariant = () => null } = {}) {
  fs.mkdirSync(dir);
  const procs = scripts.map((script) => {
    const proc = { holds: false };
    proc.gen = script(dir, proc);
    proc.pending = proc.gen.next();
    return proc;
  });
  return {
    enabled: () => procs.flatMap((proc, i) => (proc.pending.done ? [] : [i])),
    footprint(i) {
      const { op, name } = procs[i].pending.value;
      const touched = new Set([name]);
      return op === 'read' ? { reads: touched, writes: new Set(), readsAll: false, label: `${op} ${name}` }
        : { reads: new Set(), writes: touched, readsAll: false, label: `${op} ${name}` };
    },
    step(i) {
      procs[i].pending = procs[i].gen.next();
    },
    check: () => invariant(procs),
    finish: () => null,
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

const atMostOneHolder = (procs) => (procs.filter((proc) => proc.holds).length > 1 ? 'two holders' : null);

/** Looks, then creates if nothing was there: the race pidguard exists to close. */
function* lookThenCreate(dir, proc) {
  const file = path.join(dir, 'lock');
  yield { op: 'read', name: 'lock' };
  if (fs.existsSync(file)) return;
  yield { op: 'create', name: 'lock' };
  fs.writeFileSync(file, 'x');
  proc.holds = true;
}

/** Creates exclusively: the one that gets EEXIST lost. */
function* createExclusive(dir, proc) {
  yield { op: 'create', name: 'lock' };
  try {
    fs.writeFileSync(path.join(dir, 'lock'), 'x', { flag: 'wx' });
    proc.holds = true;
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
  }
}

function runs(t, scripts, options) {
  const base = tempDir(t);
  let n = 0;
  return explore(() => toySystem(path.join(base, String((n += 1))), scripts, options));
}

test('the explorer finds the two holders of a lock that looks before it creates', (t) => {
  const result = runs(t, [lookThenCreate, lookThenCreate], { invariant: atMostOneHolder });
  assert.equal(result.violation?.message, 'two holders');
  assert.deepEqual(result.violation.trace, ['0: read lock', '1: read lock', '1: create lock', '0: create lock']);
});

test('the explorer finds no second holder where the create is exclusive, in both orders', (t) => {
  const result = runs(t, [createExclusive, createExclusive], { invariant: atMostOneHolder });
  assert.equal(result.violation, null);
  assert.equal(result.complete, true);
  assert.equal(result.runs, 2);
});

test('the explorer tries one order of independent steps, and every order of dependent ones', (t) => {
  function* own(name) {
    yield { op: 'create', name };
    yield { op: 'create', name: `${name}2` };
  }
  // Two processes on names of their own: one interleaving stands for all six.
  assert.equal(runs(t, [function* a() { yield* own('a'); }, function* b() { yield* own('b'); }]).runs, 1);
  // Three processes each writing the same name once: 3! orders.
  const writer = function* w() {
    yield { op: 'create', name: 'shared' };
  };
  assert.equal(runs(t, [writer, writer, writer]).runs, 6);
  // Reads commute: three readers of one name, one interleaving.
  const reader = function* r() {
    yield { op: 'read', name: 'shared' };
  };
  assert.equal(runs(t, [reader, reader, reader]).runs, 1);
  // A reader and a writer: the read before or after the write.
  assert.equal(runs(t, [reader, writer]).runs, 2);
});
