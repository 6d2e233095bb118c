// `npm run test:pack`: packs pidguard as it would be published (prepack builds the prebuilds for
// linux-x64 glibc and musl, linux-arm64 glibc and musl, and win32-x64), installs the tarball into
// a fresh directory with every compiler off PATH, and uses it: on Linux with this Node, with the
// arm64 Node under qemu-user, and under Wine with the Windows node.exe. Each must load its prebuild
// (nothing compiled at install) and take, refuse and release a real lock. (The musl prebuilds'
// own use is test/runtimes/musl.test.mjs's: no Node for musl can be had here.)
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runArm64, setupArm64Node } from '../arm64/node.mjs';
import { root, runNode, setupWine } from '../windows/wine.mjs';

const npmCli = process.env.npm_execpath ?? '/usr/lib/node_modules/npm/bin/npm-cli.js';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-pack-'));
const npm = (args, options) => execFileSync(process.execPath, [npmCli, ...args], { encoding: 'utf8', ...options });

try {
  console.log('# npm pack (prepack builds every prebuild)');
  const packed = npm(['pack', '--silent', '--pack-destination', work], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const tarball = path.join(work, packed.trim().split('\n').at(-1)); // the name comes last, after prepack's output
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  for (const prebuild of ['linux-x64/pidguard.glibc.node', 'linux-x64/pidguard.musl.node', 'linux-arm64/pidguard.glibc.node', 'linux-arm64/pidguard.musl.node']) {
    assert.match(listing, new RegExp(`^package/prebuilds/${prebuild.replaceAll('.', '\\.')}$`, 'm'));
  }
  assert.match(listing, /^package\/prebuilds\/win32-x64\/pidguard\.node$/m);
  assert.match(listing, /^package\/LICENSE$/m, 'the MIT license that package.json names ships with the package');

  // A PATH with node and sh only: no cc, gcc, g++, make or python3 for node-gyp to find.
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  const env = { ...process.env, PATH: bin };
  for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key];
  const found = spawnSync('/bin/sh', ['-c', 'command -v cc gcc g++ make python3 python'], { env, encoding: 'utf8' }).stdout.trim();
  assert.equal(found, '', `compilers should be hidden, found: ${found}`);

  /** A fresh project with the tarball installed (npm `flags` added) and the smoke script beside it. */
  const install = (name, flags) => {
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
    console.log(`# npm install ${flags.join(' ')} <tarball>, with no compiler on PATH`);
    npm(['install', '--no-audit', '--no-fund', ...flags, tarball], { cwd: dir, env, stdio: 'inherit' });
    fs.copyFileSync(path.join(root, 'scripts', 'pack', 'smoke.cjs'), path.join(dir, 'smoke.cjs'));
    return dir;
  };
  /** What the smoke script saw, for the platform it ran on, as it must be. */
  const expected = (platform, addon, seen) => ({
    platform, addon, built: false, recorded: true,
    refusal: { code: 'ELOCKED', pid: seen.holder }, holder: seen.holder, removed: true,
  });
  const smokeOnLinux = (dir) => JSON.parse(execFileSync(process.execPath, ['smoke.cjs'], { cwd: dir, env, encoding: 'utf8' }));

  const app = install('app', ['--foreground-scripts']);
  const linux = smokeOnLinux(app);
  console.log('linux:', JSON.stringify(linux));
  assert.deepEqual(linux, expected('linux', 'prebuilds/linux-x64/pidguard.glibc.node', linux));

  // Where install scripts are not allowed (npm --ignore-scripts, or npm's allowScripts), the
  // prebuild is all there is: the package must work without its install step.
  const unscripted = smokeOnLinux(install('bare', ['--ignore-scripts']));
  console.log('linux, no install scripts:', JSON.stringify(unscripted));
  assert.deepEqual(unscripted, expected('linux', 'prebuilds/linux-x64/pidguard.glibc.node', unscripted));

  console.log('# arm64 Node under qemu-user: the same use, from the same install');
  const arm64 = runArm64(setupArm64Node(), ['smoke.cjs'], { cwd: app, env });
  assert.equal(arm64.status, 0, `${arm64.error ?? ''}${arm64.stderr}`);
  const onArm64 = JSON.parse(arm64.stdout);
  console.log('linux-arm64:', JSON.stringify(onArm64));
  assert.deepEqual(onArm64, expected('linux', 'prebuilds/linux-arm64/pidguard.glibc.node', onArm64));

  console.log('# under Wine: the install step\'s check, then the same use');
  setupWine();
  const packageDir = path.join(app, 'node_modules', 'pidguard');
  const check = await runNode([path.join(app, 'node_modules', 'node-gyp-build', 'build-test.js')], { cwd: packageDir });
  assert.equal(check.status, 0, `node-gyp-build-test under Wine: ${check.stderr}`);
  const ran = await runNode(['smoke.cjs'], { cwd: app });
  assert.equal(ran.status, 0, ran.stderr);
  const windows = JSON.parse(ran.stdout);
  console.log('win32:', JSON.stringify(windows));
  assert.deepEqual(windows, expected('win32', 'prebuilds/win32-x64/pidguard.node', windows));
  console.log('# ok: the packed tarball installs without a compiler and works on linux-x64, on linux-arm64 under qemu-user, and on win32-x64 under Wine');
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
