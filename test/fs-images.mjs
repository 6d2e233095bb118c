// File systems the tests make for themselves: a btrfs image with a nested subvolume, an xfs
// image, an overlayfs mount, each mounted in a temporary directory and torn down afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './helpers.mjs';

export const isRoot = process.getuid?.() === 0;

/** Why this machine cannot mount file system `type` at all, or null when it can try. */
export function cannotMount(type) {
  if (process.platform !== 'linux') return 'Linux file systems';
  if (!isRoot) return 'mounting needs root';
  // A file system the kernel lacks may still be a module that mount(8) loads on demand: only a
  // failed mount tells (see mountOrSkip).
  return null;
}

/**
 * A temporary directory for an image and its mount points; when `t` ends, whatever was mounted
 * in it is unmounted (lazily, so that a holder the test failed to end cannot keep it busy), and
 * then it is removed.
 */
function workDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-fs-'));
  const mounts = [];
  t.after(() => {
    for (const mnt of mounts.reverse()) run('umount', ['--lazy', mnt]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, mounts };
}

/** Runs a command that must succeed (the tools are installed by .ci/run), or throws with its output. */
function must(command, args) {
  const result = run(command, args);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result;
}

/**
 * Mounts with mount(8) and registers the unmount; returns null (after t.skip with the reason)
 * only when the kernel cannot mount this file system here (no such type, no loop device).
 */
function mountOrSkip(t, work, args, dir) {
  const result = run('mount', [...args, dir]);
  if (result.status !== 0) {
    if (/unknown filesystem type|failed to setup loop device|could not find any free loop device/i.test(result.stderr)) {
      t.skip(`the kernel cannot mount it here: ${result.stderr.trim()}`);
      return null;
    }
    throw new Error(`mount ${args.join(' ')} ${dir} exited ${result.status}: ${result.stderr}`);
  }
  work.mounts.push(dir);
  return dir;
}

/**
 * A btrfs image mounted at `<tmp>/mnt`, with a subvolume `sub` in it: returns the top-level
 * directory and the subvolume's, whose files stat gives devices of their own (not the one the
 * kernel's lock listings print).
 */
export function mountBtrfs(t) {
  const work = workDir(t);
  const { dir } = work;
  const image = path.join(dir, 'btrfs.img');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  must('truncate', ['-s', '128M', image]);
  must('mkfs.btrfs', ['-q', image]);
  if (mountOrSkip(t, work, ['-t', 'btrfs', '-o', 'loop', image], mnt) === null) return null;
  must('btrfs', ['-q', 'subvolume', 'create', path.join(mnt, 'sub')]);
  return { top: mnt, sub: path.join(mnt, 'sub') };
}

/** An xfs image (300 MB sparse: mkfs.xfs's minimum) mounted at a temporary directory. */
export function mountXfs(t) {
  const work = workDir(t);
  const { dir } = work;
  const image = path.join(dir, 'xfs.img');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  must('truncate', ['-s', '300M', image]);
  must('mkfs.xfs', ['-q', image]);
  return mountOrSkip(t, work, ['-t', 'xfs', '-o', 'loop', image], mnt);
}

/**
 * An overlayfs mount whose lower, upper and work directories are on the test's tmp; `lowerFiles`
 * are made (empty) in the lower layer first, since the lower layer must not change once mounted.
 */
export function mountOverlay(t, lowerFiles = []) {
  const work = workDir(t);
  const { dir } = work;
  for (const name of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(path.join(dir, name));
  for (const name of lowerFiles) fs.writeFileSync(path.join(dir, 'lower', name), '');
  const options = `lowerdir=${path.join(dir, 'lower')},upperdir=${path.join(dir, 'upper')},workdir=${path.join(dir, 'work')}`;
  return mountOrSkip(t, work, ['-t', 'overlay', '-o', options, 'overlay'], path.join(dir, 'mnt'));
}
