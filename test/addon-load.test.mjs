// An addon that cannot be loaded is an error that says why and what to do, never a quiet switch to
// the weaker stale-PID fallback; bundled apps get the kernel lock when pidguard is external or its
// addon sits beside the bundle; weaker locks taken on purpose are visible as Node warnings.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';
import nodeGypBuild from 'node-gyp-build';
import { acquireSync } from 'pidguard';
import { flockCanTake, root, tempDir } from './helpers.mjs';

const linux = process.platform === 'linux';
const options = { skip: !linux && 'builds and runs Linux bundles', timeout: 60_000 };

// What each little app does: take the lock, report, release.
const APP = `
  const fs = require('node:fs');
  const { acquireSync } = require('pidguard');
  const file = process.argv[2];
  try {
    const lock = acquireSync(file, process.argv[3] ? { mode: process.argv[3] } : undefined);
    console.log(JSON.stringify({ ok: true, mode: lock.mode, text: fs.readFileSync(file, 'utf8') }));
    lock.release();
  } catch (error) {
    console.log(JSON.stringify({ ok: false, code: error.code, message: error.message, exists: fs.existsSync(file) }));
  }`;

/** An app directory with its own package.json, pidguard in node_modules (this checkout), and APP as src/app.js. */
function appDir(t) {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'some-service', version: '1.0.0', private: true }));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'pidguard'));
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', 'app.js'), APP);
  return dir;
}

async function bundle(dir, external) {
  await build({
    entryPoints: [path.join(dir, 'src', 'app.js')],
    outfile: path.join(dir, 'dist', 'app.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    logLevel: 'silent',
    external: external ? ['pidguard'] : [],
  });
  return path.join(dir, 'dist', 'app.js');
}

function runApp(script, ...args) {
  const result = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

test('bundled with --external:pidguard, the app takes the kernel lock from node_modules', options, async (t) => {
  const dir = appDir(t);
  const file = path.join(dir, 'svc.pid');
  const seen = runApp(await bundle(dir, true), file);
  assert.equal(seen.ok, true, seen.message);
  assert.equal(seen.mode, 'kernel');
  assert.match(seen.text, /^\d+\n$/);
});

test('fully bundled, the addon is not found: ERR_PIDGUARD_NATIVE says so and how to mend it, and no fallback lock is taken', options, async (t) => {
  const dir = appDir(t);
  const file = path.join(dir, 'svc.pid');
  const script = await bundle(dir, false);
  const seen = runApp(script, file);
  assert.equal(seen.ok, false);
  assert.equal(seen.code, 'ERR_PIDGUARD_NATIVE');
  assert.match(seen.message, /bundled/);
  assert.match(seen.message, /--external:pidguard/);
  assert.match(seen.message, /pidguard\.node/);
  assert.equal(seen.exists, false, 'a fallback lock was taken quietly');
  // Asked for by name, the fallback still works without the addon.
  assert.deepEqual(runApp(script, file, 'pidfile').mode, 'pidfile');
});

test("fully bundled with the addon copied beside the bundle as pidguard.node, it is the kernel lock", options, async (t) => {
  const dir = appDir(t);
  const file = path.join(dir, 'svc.pid');
  const script = await bundle(dir, false);
  // The addon this package loads (its build, or else its prebuild), copied as an app ships it.
  fs.copyFileSync(nodeGypBuild.resolve(root), path.join(dir, 'dist', 'pidguard.node'));
  const seen = runApp(script, file);
  assert.equal(seen.ok, true, seen.message);
  assert.equal(seen.mode, 'kernel');
  assert.equal(flockCanTake(file), true); // released, and flock(1) sees the same kind of lock
});

test('installed without a prebuild for this platform and without a build: an error naming the platform and npm rebuild', options, (t) => {
  // A copy of pidguard's package with its JavaScript but no build/ and no prebuilds/.
  const pkg = tempDir(t);
  fs.copyFileSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
  fs.cpSync(path.join(root, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'));
  const file = path.join(pkg, 'svc.pid');
  const script = path.join(pkg, 'app.js');
  fs.writeFileSync(script, APP.replace("require('pidguard')", `require(${JSON.stringify(path.join(pkg, 'dist', 'index.js'))})`));
  const seen = runApp(script, file);
  assert.equal(seen.code, 'ERR_PIDGUARD_NATIVE');
  assert.match(seen.message, new RegExp(`no prebuilt addon for ${process.platform}-${process.arch}`));
  assert.match(seen.message, /npm rebuild pidguard/);
  assert.equal(seen.exists, false);
  assert.equal(runApp(script, file, 'kernel').code, 'ERR_PIDGUARD_NATIVE');
  // inspect() without the addon still says what the kernel says (/proc/locks), never the fallback's view.
  const held = acquireSync(file);
  t.after(() => held.release());
  const looked = spawnSync(process.execPath, ['-e', `
    const status = require(${JSON.stringify(path.join(pkg, 'dist', 'index.js'))}).inspectSync(process.argv[1]);
    console.log(JSON.stringify({ locked: status.locked, mode: status.mode, pid: status.pid }));`, file], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(looked.stdout), { locked: true, mode: 'kernel', pid: process.pid });
});

test('a weaker lock taken on purpose is a Node warning with a code, once per directory; --no-warnings silences it', options, (t) => {
  const dir = tempDir(t);
  const missing = path.join(dir, 'no-such-dir');
  const script = `
    const { acquireSync } = require(${JSON.stringify(root)});
    for (const name of ['a.pid', 'b.pid']) acquireSync(require('node:path').join(process.argv[1], name), { failOpen: true });`;
  const loud = spawnSync(process.execPath, ['-e', script, missing], { encoding: 'utf8' });
  assert.equal(loud.status, 0, loud.stderr);
  const warnings = loud.stderr.split('\n').filter((line) => line.includes('[PIDGUARD_FAIL_OPEN]'));
  assert.equal(warnings.length, 1, loud.stderr);
  assert.match(warnings[0], /pidguard: running without the lock on .*a\.pid \(failOpen\): ENOENT/);
  const quiet = spawnSync(process.execPath, ['--no-warnings', '-e', script, missing], { encoding: 'utf8' });
  assert.equal(quiet.stderr, '');
});

test('PIDGUARD_MODE that may not be read (Deno without --allow-env for it) means not set', options, (t) => {
  const file = path.join(tempDir(t), 'svc.pid');
  // Deno throws NotCapable for a variable it may not read; a Proxy does the same here.
  const result = spawnSync(process.execPath, ['-e', `
    const real = process.env;
    process.env = new Proxy(real, { get(target, name) {
      if (name !== 'PIDGUARD_MODE') return target[name];
      const e = new Error('Requires env access to "PIDGUARD_MODE"'); e.name = 'NotCapable'; throw e;
    } });
    const lock = require(${JSON.stringify(root)}).acquireSync(process.argv[1]);
    console.log(lock.mode);
    lock.release();`, file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'kernel\n');
});

test('each cause of a failed load gets its own remedy', async () => {
  const { addonLoadMessage } = await import('../dist/addon/load-error.js');
  const facts = { bundled: false, deno: false, platform: 'linux', arch: 'arm64' };
  const denied = Object.assign(new Error('Requires ffi access to "/x/pidguard.node", run again with the --allow-ffi flag'), { name: 'NotCapable' });
  assert.match(addonLoadMessage({ ...facts, deno: true, cause: denied }), /Deno refused .*--allow-ffi/);
  assert.match(addonLoadMessage({ ...facts, cause: new Error('No native build was found for platform=linux arch=arm64\n    loaded from: /x') }),
    /no prebuilt addon for linux-arm64 .*npm rebuild pidguard/);
  assert.match(addonLoadMessage({ ...facts, cause: new Error("/lib/libc.so.6: version `GLIBC_2.38' not found") }),
    /GLIBC_2\.38' not found\. Reinstall it for this platform/);
  assert.match(addonLoadMessage({ ...facts, bundled: true, cause: new Error('No native build was found') }), /bundled.*prebuilds\/linux-arm64/);
});
