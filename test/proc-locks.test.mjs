// /proc/locks, fdinfo and mountinfo parsing, first on fixed text, then against the kernel's own
// listing of a flock(1).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import procFdinfo from '../dist/kernel/proc-fdinfo.js';
import procLocks from '../dist/kernel/proc-locks.js';
import { startHolder, tempDir } from './helpers.mjs';

const { flockHolders, lockKeys, procLocksKey } = procLocks;
const { fdinfoLocks, fdinfoMountId, mountDevice } = procFdinfo;

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
  assert.deepEqual(flockHolders(sample, ['fe:00:2146344']), [{ pid: 1234, exclusive: true }]);
  assert.deepEqual(flockHolders(sample, ['00:1b:3']), [
    { pid: 42, exclusive: false },
    { pid: 43, exclusive: false },
  ]);
  assert.deepEqual(flockHolders(sample, ['fe:00:55']), []);
  assert.deepEqual(flockHolders(sample, ['00:1b:9']), []);
  assert.deepEqual(flockHolders(sample, ['103:02:77']), [{ pid: null, exclusive: true }]);
  // A file known under two keys (by stat, by its mount) is found under either.
  assert.deepEqual(flockHolders(sample, ['00:28:3', '00:1b:3']).length, 2);
});

test('a file on a btrfs subvolume has a key by stat and another by its mount', () => {
  // stat: the subvolume's anonymous device 0:40; mountinfo: the file system's 0:39.
  assert.deepEqual(lockKeys(40n, 257n, '00:27'), ['00:28:257', '00:27:257']);
  assert.deepEqual(lockKeys(65024n, 12n, 'fe:00'), ['fe:00:12'], 'one key where both agree');
  assert.deepEqual(lockKeys(65024n, 12n, null), ['fe:00:12']);
});

test('reads the mount id and the locks of a descriptor from its fdinfo', () => {
  const fdinfo = 'pos:\t0\nflags:\t0100000\nmnt_id:\t27\nino:\t2146627\nlock:\t1: FLOCK  ADVISORY  WRITE 10036 fe:00:2146627 0 EOF\n';
  assert.equal(fdinfoMountId(fdinfo), 27);
  assert.deepEqual(fdinfoLocks(fdinfo), [{ lockClass: 'FLOCK', blocked: false, exclusive: true, pid: 10036, key: 'fe:00:2146627' }]);
  assert.deepEqual(fdinfoLocks('pos:\t0\nflags:\t02\nmnt_id:\t16\nino:\t9\n'), []);
  assert.equal(fdinfoMountId('pos:\t0\n'), null);
});

test('finds a mount\'s device in mountinfo, printed as /proc/locks prints devices', () => {
  const mountinfo = [
    '24 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '43 27 0:39 / /tmp/x/mnt rw,relatime - btrfs /dev/loop0 rw,subvolid=5,subvol=/',
    '50 27 259:300 / /data rw - xfs /dev/nvme0n1p1 rw',
    '',
  ].join('\n');
  assert.equal(mountDevice(mountinfo, 43), '00:27');
  assert.equal(mountDevice(mountinfo, 24), 'fe:00');
  assert.equal(mountDevice(mountinfo, 50), '103:12c');
  assert.equal(mountDevice(mountinfo, 4), null);
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
  const holders = flockHolders(fs.readFileSync('/proc/locks', 'latin1'), [procLocksKey(dev, ino)]);
  assert.deepEqual(holders, [{ pid: holder.pid, exclusive: true }]);
});
