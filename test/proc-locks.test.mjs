// /proc/locks parsing, first on fixed text, then against the kernel's own listing of a flock(1).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import procLocks from '../dist/proc-locks.js';
import { startHolder, tempDir } from './helpers.mjs';

const { flockHolders, procLocksKey } = procLocks;

const sample = [
  '1: POSIX  ADVISORY  WRITE 700 fe:00:55 0 EOF',
  '2: FLOCK  ADVISORY  WRITE 1234 fe:00:2146344 0 EOF',
  '2: -> FLOCK  ADVISORY  WRITE 1300 fe:00:2146344 0 EOF',
  '3: FLOCK  ADVISORY  READ 42 00:1b:3 0 EOF',
  '4: FLOCK  ADVISORY  READ 43 00:1b:3 0 EOF',
  '5: OFDLCK ADVISORY  WRITE -1 00:1b:9 0 EOF',
  '6: FLOCK  ADVISORY  WRITE -1 103:02:77 0 EOF',
  '',
].join('\n');

test('lists the flock holders of one file, skipping waiters and other lock kinds', () => {
  assert.deepEqual(flockHolders(sample, 'fe:00:2146344'), [{ pid: 1234, exclusive: true }]);
  assert.deepEqual(flockHolders(sample, '00:1b:3'), [
    { pid: 42, exclusive: false },
    { pid: 43, exclusive: false },
  ]);
  assert.deepEqual(flockHolders(sample, 'fe:00:55'), []);
  assert.deepEqual(flockHolders(sample, '00:1b:9'), []);
  assert.deepEqual(flockHolders(sample, '103:02:77'), [{ pid: null, exclusive: true }]);
});

test('builds the key from dev and ino as the kernel prints them', () => {
  assert.equal(procLocksKey(65024n, 2146344n), 'fe:00:2146344');
  assert.equal(procLocksKey(27n, 3n), '00:1b:3');
  // major 259, minor 2 (an NVMe partition): dev = (259 << 8) | 2
  assert.equal(procLocksKey((259n << 8n) | 2n, 77n), '103:02:77');
  // minor above 255 lands in the high bits
  assert.equal(procLocksKey((8n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n), 5n), '08:12c:5');
});

test('finds the lock flock(1) holds in the real /proc/locks', { skip: process.platform !== 'linux' && 'Linux only' }, async (t) => {
  const file = path.join(tempDir(t), 'held');
  const { child: holder } = await startHolder(t, 'flock', ['--exclusive', file, '-c', 'echo held; exec sleep 30']);
  const { dev, ino } = fs.statSync(file, { bigint: true });
  const holders = flockHolders(fs.readFileSync('/proc/locks', 'latin1'), procLocksKey(dev, ino));
  assert.deepEqual(holders, [{ pid: holder.pid, exclusive: true }]);
});
