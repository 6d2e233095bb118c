// Which files may be trusted as PID files (src/trust.ts): pure rules, tested without files.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distrust, distrustDescription } from '../dist/file/trust.js';

const alice = { uid: 1000, gid: 1000 };
const file = (overrides) => ({ uid: 1000, gid: 1000, mode: 0o100644, nlink: 1, ...overrides });

test('a file of this user or of root, writable by nobody else, is trusted', () => {
  assert.equal(distrust(file(), alice, true), null);
  assert.equal(distrust(file({ uid: 0, gid: 0 }), alice, true), null);
  // Group-writable is fine when the group is this process's own, or root's.
  assert.equal(distrust(file({ mode: 0o100664 }), alice, true), null);
  assert.equal(distrust(file({ mode: 0o100664, gid: 0 }), alice, true), null);
});

test("another user's file, one others can write, and a second hard link are refused", () => {
  assert.deepEqual(distrust(file({ uid: 65534 }), alice, true), { kind: 'owner', uid: 65534 });
  assert.deepEqual(distrust(file({ uid: 65534 }), { uid: 0, gid: 0 }, true), { kind: 'owner', uid: 65534 });
  assert.deepEqual(distrust(file({ mode: 0o100666 }), alice, true), { kind: 'writable', by: 'others', gid: 1000 });
  assert.deepEqual(distrust(file({ mode: 0o100664, gid: 50 }), alice, true), { kind: 'writable', by: 'group', gid: 50 });
  assert.deepEqual(distrust(file({ nlink: 2 }), alice, true), { kind: 'links', nlink: 2 });
  assert.equal(distrust(file({ nlink: 2 }), alice, false), null);
});

test('each refusal says what is wrong and what to do', () => {
  assert.match(distrustDescription({ kind: 'owner', uid: 65534 }, alice), /owned by uid 65534, not by this user \(uid 1000\) or root/);
  assert.match(distrustDescription({ kind: 'writable', by: 'others', gid: 1 }, alice), /writable by all users.*chmod go-w/);
  assert.match(distrustDescription({ kind: 'links', nlink: 3 }, alice), /3 hard links/);
});
