// Errors other than contention: each comes with its code and the path, and leaves every file
// that was there as it was.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquire, acquireSync } from 'pidguard';
import { openDescriptorCount, run, tempDir } from './helpers.mjs';

const posix = process.platform !== 'win32';
const isRoot = posix && process.getuid() === 0;
const pidguardEntry = fileURLToPath(import.meta.resolve('pidguard'));

/** Asserts that acquireSync and acquire both fail on `file` with `code`, naming the path. */
async function assertRefused(file, code) {
  const check = (error) => {
    assert.equal(error.code, code, error.message);
    assert.equal(error.path, file);
    assert.ok(error.message.includes(file), error.message);
    return true;
  };
  const descriptors = openDescriptorCount();
  assert.throws(() => acquireSync(file), check);
  await assert.rejects(acquire(file), check);
  assert.equal(openDescriptorCount(), descriptors, 'no descriptor left open');
}

/** Mounts a tmpfs of `size` at a new directory, unmounted when `t` ends; null where mounting is not allowed. */
function mountTmpfs(t, size) {
  if (!isRoot) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-mnt-'));
  const mounted = run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
  // Unmount before removing: hooks run in the order they were added.
  t.after(() => {
    if (mounted) run('umount', ['-l', dir]);
    fs.rmdirSync(dir);
  });
  return mounted ? dir : null;
}

test('ENOENT for a missing directory; nothing is created', async (t) => {
  const dir = tempDir(t);
  await assertRefused(path.join(dir, 'no-such-dir', 'app.pid'), 'ENOENT');
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('EISDIR for a directory where the PID file should be; the directory is kept', async (t) => {
  const dir = path.join(tempDir(t), 'app.pid');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'inside'), 'x');
  await assertRefused(dir, 'EISDIR');
  assert.deepEqual(fs.readdirSync(dir), ['inside']);
});

test('ELOOP for a symlink planted at the PID file path; its target survives untouched', { skip: !posix && 'POSIX symlinks' }, async (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, 'precious');
  fs.writeFileSync(target, 'do not truncate me\n');
  const link = path.join(dir, 'app.pid');
  fs.symlinkSync(target, link);
  await assertRefused(link, 'ELOOP');
  assert.match(fs.readFileSync(target, 'utf8'), /do not truncate me/);
  assert.equal(fs.readlinkSync(link), target);
  // A dangling link is refused too, rather than creating its target.
  const dangling = path.join(dir, 'dangling.pid');
  fs.symlinkSync(path.join(dir, 'would-be-created'), dangling);
  await assertRefused(dangling, 'ELOOP');
  assert.equal(fs.existsSync(path.join(dir, 'would-be-created')), false);
});

test('EINVAL for a FIFO or a device at the PID file path; neither is touched', { skip: !posix && 'POSIX file types' }, async (t) => {
  const fifo = path.join(tempDir(t), 'app.pid');
  assert.equal(run('mkfifo', [fifo]).status, 0);
  await assertRefused(fifo, 'EINVAL');
  assert.ok(fs.lstatSync(fifo).isFIFO());
  if (isRoot) {
    await assertRefused('/dev/null', 'EINVAL');
    assert.ok(fs.statSync('/dev/null').isCharacterDevice());
  }
});

test('EACCES where the process may not write; the existing PID file is left as it was', { skip: !posix && 'POSIX permissions', timeout: 30_000 }, (t) => {
  const dir = path.join(tempDir(t), 'locked-down');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'old.pid'), '4242\n');
  fs.chmodSync(path.dirname(dir), 0o755);
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.join(dir, 'old.pid'), 0o644);
  const script = `
    const { acquireSync } = require(${JSON.stringify(pidguardEntry)});
    const codes = [];
    for (const name of ['new.pid', 'old.pid']) {
      try { acquireSync(require('path').join(process.argv[1], name)); codes.push('acquired'); }
      catch (error) { codes.push(error.code + ' ' + error.message); }
    }
    console.log(JSON.stringify(codes));`;
  // Tests run as root in CI, where permissions do not bite: drop to nobody for this one.
  const command = isRoot ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script, dir]]
    : [process.execPath, ['-e', script, dir]];
  if (!isRoot) fs.chmodSync(dir, 0o555);
  const result = run(...command);
  assert.equal(result.status, 0, result.stderr);
  const [fresh, existing] = JSON.parse(result.stdout);
  assert.match(fresh, new RegExp(`^EACCES .*open '${path.join(dir, 'new.pid')}'`));
  assert.match(existing, new RegExp(`^EACCES .*open '${path.join(dir, 'old.pid')}'`));
  assert.equal(fs.readFileSync(path.join(dir, 'old.pid'), 'utf8'), '4242\n');
  assert.equal(fs.existsSync(path.join(dir, 'new.pid')), false);
});

test('EROFS on a read-only file system; the existing PID file is left as it was', { skip: !isRoot && 'needs root to mount a tmpfs' }, async (t) => {
  const dir = mountTmpfs(t, '64k');
  if (dir === null) return t.skip('mounting a tmpfs is not allowed here');
  fs.writeFileSync(path.join(dir, 'old.pid'), '4242\n');
  assert.equal(run('mount', ['-o', 'remount,ro', dir]).status, 0);
  await assertRefused(path.join(dir, 'old.pid'), 'EROFS');
  await assertRefused(path.join(dir, 'new.pid'), 'EROFS');
  assert.equal(fs.readFileSync(path.join(dir, 'old.pid'), 'utf8'), '4242\n');
});

test('ENOSPC on a full file system leaves no empty PID file and no descriptor behind', { skip: !isRoot && 'needs root to mount a tmpfs' }, async (t) => {
  const dir = mountTmpfs(t, '4k');
  if (dir === null) return t.skip('mounting a tmpfs is not allowed here');
  const filler = Buffer.alloc(4096, 'f');
  fs.writeFileSync(path.join(dir, 'filler'), filler);
  const descriptors = openDescriptorCount();
  await assertRefused(path.join(dir, 'app.pid'), 'ENOSPC');
  assert.equal(openDescriptorCount(), descriptors);
  assert.deepEqual(fs.readdirSync(dir), ['filler']);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'filler')), filler);
});
