// The words of errors: who holds the lock and how to stop it, on each platform.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import errors from '../dist/errors.js';
import { LockedError } from 'pidguard';

const { lockedMessage, stopCommand } = errors;

test('names the holder and how to stop it', () => {
  const message = lockedMessage('/run/app.pid', 4242, 1);
  assert.match(message, /\/run\/app\.pid/);
  assert.match(message, /already running as PID 4242/);
  assert.ok(message.includes(stopCommand(4242)), message); // kill 4242, or taskkill /PID 4242 on Windows
});

test('offers taskkill on Windows and kill elsewhere', () => {
  assert.equal(stopCommand(7, 'win32'), 'taskkill /PID 7');
  assert.equal(stopCommand(7, 'linux'), 'kill 7');
  assert.equal(stopCommand(7, 'darwin'), 'kill 7');
});

test('says when the holder is this very process', () => {
  assert.match(lockedMessage('/run/app.pid', 99, 99), /already locked by this process \(PID 99\)/);
});

test('says when the holder has not recorded a PID', () => {
  assert.match(lockedMessage('/run/app.pid', null, 1), /has not recorded its PID/);
});

test('LockedError carries code, path and pid', () => {
  const error = new LockedError('/run/app.pid', 12);
  assert.ok(error instanceof Error);
  assert.equal(error.code, 'ELOCKED');
  assert.equal(error.path, '/run/app.pid');
  assert.equal(error.pid, 12);
  assert.equal(error.name, 'LockedError');
});
