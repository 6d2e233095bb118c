// The kernel lock on file systems whose lock listings differ from what stat says: btrfs (and a
// nested subvolume), xfs and overlayfs, each on an image or mount the test makes itself.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { inspect, inspectSync } from 'pidguard';
import { cliSetup, fileHolds, sh, startScript } from './cli-helpers.mjs';
import { cannotMount, mountBtrfs, mountOverlay, mountXfs } from './fs-images.mjs';
import { startHolder } from './helpers.mjs';

const options = (type) => ({ skip: cannotMount(type) ?? false, timeout: 60_000 });

/** inspect and inspectSync agree, and name `pid` as the holder, proven by its descriptor of the file. */
async function assertHeldBy(file, pid) {
  const seen = await inspect(file);
  assert.deepEqual(inspectSync(file), seen);
  assert.equal(seen.locked, true, JSON.stringify(seen));
  assert.equal(seen.pid, pid, JSON.stringify(seen));
  assert.equal(seen.holderProof, 'fd', JSON.stringify(seen));
}

/** `pidguard run` holds `file`: status names its command, a second run is refused, stop ends it. */
async function pidguardRunHolds(t, setup, file) {
  const service = startScript(t, setup, `exec pidguard run ${file} -- bash -c 'echo $$; exec sleep 60'`);
  const commandPid = Number(await service.nextLine());
  await fileHolds(file, `${commandPid}\n`);
  const status = sh(setup, `pidguard status ${file}`);
  assert.equal(status.status, 0, `status of ${file}: ${status.stderr}`);
  assert.equal(status.stdout, `${commandPid}\n`);
  await assertHeldBy(file, commandPid);
  const refused = sh(setup, `pidguard run ${file} -- true`);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`already running as PID ${commandPid}: sleep 60`));
  const stopped = sh(setup, `pidguard stop -t 10 ${file}`);
  assert.equal(stopped.status, 0, `stop ${file}: ${stopped.stderr}`);
  assert.deepEqual(await service.exited, { code: 128 + 15, signal: null });
  assert.equal(fs.existsSync(file), false);
}

/** flock(1) holds `file` (and closes it in its command): status names flock, stop ends it. */
async function flockHolds(t, setup, file) {
  const { child } = await startHolder(t, 'flock', ['--close', file, '-c', 'echo held; exec sleep 60']);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const status = sh(setup, `pidguard status ${file}`);
  assert.equal(status.status, 0, `status of ${file}: ${status.stderr}`);
  assert.equal(status.stdout, `${child.pid}\n`);
  await assertHeldBy(file, child.pid);
  const stopped = sh(setup, `pidguard stop -t 10 ${file}`);
  assert.equal(stopped.status, 0, `stop ${file}: ${stopped.stderr}`);
  assert.deepEqual(await exited, { code: null, signal: 'SIGTERM' });
  assert.equal((await inspect(file)).locked, false);
}

test('btrfs, top level and a nested subvolume: status, stop and inspect see the lock', options('btrfs'), async (t) => {
  const mounted = mountBtrfs(t);
  if (mounted === null) return;
  const setup = cliSetup(t);
  for (const dir of [mounted.top, mounted.sub]) {
    await pidguardRunHolds(t, setup, path.join(dir, 'run.pid'));
    await flockHolds(t, setup, path.join(dir, 'flock.pid'));
  }
});

test('btrfs: a lock on a file with the same inode number in another subvolume is not this file\'s', options('btrfs'), async (t) => {
  const mounted = mountBtrfs(t);
  if (mounted === null) return;
  // The first file made in each subvolume gets the same inode number (257), and /proc/locks
  // prints both under the file system's one device.
  const [top, sub] = [path.join(mounted.top, 'a.pid'), path.join(mounted.sub, 'a.pid')];
  fs.writeFileSync(top, '');
  fs.writeFileSync(sub, '');
  assert.equal(fs.statSync(top).ino, fs.statSync(sub).ino);
  const { child } = await startHolder(t, 'flock', [sub, '-c', 'echo held; exec sleep 60']);
  await assertHeldBy(sub, child.pid);
  const other = await inspect(top);
  assert.equal(other.locked, false, JSON.stringify(other));
  assert.deepEqual(inspectSync(top), other);
});

test('xfs: status, stop and inspect see the lock', options('xfs'), async (t) => {
  const mnt = mountXfs(t);
  if (mnt === null) return;
  const setup = cliSetup(t);
  await pidguardRunHolds(t, setup, path.join(mnt, 'run.pid'));
  await flockHolds(t, setup, path.join(mnt, 'flock.pid'));
});

test('overlayfs: status, stop and inspect see the lock, on a new file and on one from the lower layer', options('overlay'), async (t) => {
  const mnt = mountOverlay(t, ['lower.pid']);
  if (mnt === null) return;
  const setup = cliSetup(t);
  await pidguardRunHolds(t, setup, path.join(mnt, 'run.pid'));
  await flockHolds(t, setup, path.join(mnt, 'flock.pid'));
  // A file only the lower layer has, which flock(1) opens read-only: never copied up.
  await flockHolds(t, setup, path.join(mnt, 'lower.pid'));
});
