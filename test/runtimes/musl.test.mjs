// The musl prebuilds (linux-x64 and linux-arm64), loaded and used in musl processes: no JavaScript
// runtime for musl can be had here (Bun's musl build needs Alpine's libstdc++, which neither Debian
// nor npm provides), so fixtures/napi-host.c, a minimal Node-API host built against Debian's musl,
// loads each addon as Node would and takes, is refused and releases a real lock with it; the arm64
// one under qemu-user. Also: node-gyp-build picks each prebuild where it belongs.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildLinux, prebuildPath } from '../../scripts/cross/build.mjs';
import { ensureMuslArm64, loader as muslArm64Loader, specs as muslArm64Specs } from '../../scripts/cross/musl-arm64.mjs';
import { ensureCommands } from '../../scripts/windows/debian-packages.mjs';
import { flockCanTake, root } from '../helpers.mjs';
import { hostAddon, LineChild } from './runtimes.mjs';

const TIMEOUT = { timeout: 120_000 };
const here = path.dirname(new URL(import.meta.url).pathname);
const QEMU = '/usr/bin/qemu-aarch64';
let work;

/** Per architecture: how to build the host, how to run it, and the addons that must and must not load. */
const ARCHES = {
  x64: {
    build: () => ['musl-gcc'],
    run: (host, args) => [host, ...args],
    musl: () => prebuildPath('x64-musl'),
    glibc: () => hostAddon(root),
  },
  arm64: {
    build: () => ['aarch64-linux-gnu-gcc', '-specs', muslArm64Specs],
    // musl's loader run as a command, under qemu without a -L prefix (see scripts/arm64/node.mjs).
    run: (host, args) => [QEMU, muslArm64Loader, host, ...args],
    musl: () => prebuildPath('arm64-musl'),
    glibc: () => prebuildPath('arm64-glibc'),
  },
};
const hosts = {};

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pidguard-musl-'));
  ensureCommands({ 'musl-gcc': 'musl-tools', [QEMU]: 'qemu-user' });
  ensureMuslArm64();
  buildLinux('x64-musl', { quiet: true });
  buildLinux('arm64-musl', { quiet: true });
  buildLinux('arm64-glibc', { quiet: true });
  const headers = path.join(path.dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
  for (const [arch, { build }] of Object.entries(ARCHES)) {
    hosts[arch] = path.join(work, `napi-host-${arch}`);
    const [cc, ...flags] = build();
    execFileSync(cc, [...flags, '-std=gnu11', '-O2', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror', '-DNAPI_VERSION=8',
      '-I', headers, '-rdynamic', path.join(here, 'fixtures', 'napi-host.c'), '-o', hosts[arch]]);
  }
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

for (const [arch, { run, musl, glibc }] of Object.entries(ARCHES)) {
  describe(`linux-${arch} musl`, () => {
    test('the musl prebuild loads in a musl process, takes the kernel lock, is refused to a second one, releases', TIMEOUT, async (t) => {
      const file = path.join(work, `${arch}.pid`);
      const holder = new LineChild(t, run(hosts[arch], [musl(), file]));
      const held = JSON.parse(await holder.next());
      assert.deepEqual({ ...held, musl: undefined }, { pid: holder.pid, locked: true, musl: undefined, glibc: false }, holder.stderr);
      assert.match(held.musl, arch === 'x64' ? /x86_64-linux-musl\/libc\.so$/ : /aarch64-linux-musl\/libc\.so$/, 'musl is the C library mapped');
      assert.equal(fs.readFileSync(file, 'utf8'), `${holder.pid}\n`);
      assert.equal(flockCanTake(file), false, 'flock(1) must find the file locked');

      const [command, ...args] = run(hosts[arch], [musl(), file]);
      const second = spawnSync(command, args, { input: '', encoding: 'utf8', timeout: 60_000 });
      assert.equal(second.status, 0, second.stderr);
      assert.equal(JSON.parse(second.stdout).locked, false, 'a second process is refused');

      holder.send('release');
      assert.deepEqual(JSON.parse(await holder.next()), { released: true });
      assert.deepEqual(await holder.exited, { code: 0, signal: null });
      assert.equal(fs.existsSync(file), false, 'release removes the PID file');
    });

    test('the glibc build does not load there (so the libc tag matters)', TIMEOUT, () => {
      const file = path.join(work, `${arch}-glibc.pid`);
      const [command, ...args] = run(hosts[arch], [glibc(), file]);
      const result = spawnSync(command, args, { input: '', encoding: 'utf8', timeout: 60_000 });
      assert.match(JSON.parse(result.stdout).error, /^dlopen: Error relocating .*symbol not found/);
      assert.equal(fs.existsSync(file), false);
    });
  });
}

test('node-gyp-build picks pidguard.musl.node on musl (LIBC=musl, as on Alpine) and pidguard.glibc.node elsewhere', TIMEOUT, () => {
  const resolveFor = (arch, libc) => execFileSync(process.execPath, ['-p', `require('node-gyp-build').resolve(${JSON.stringify(root)})`], {
    cwd: root,
    encoding: 'utf8',
    // node-gyp-build's own overrides: the platform it resolves for, and the prebuilds only.
    env: { ...process.env, PREBUILDS_ONLY: '1', npm_config_arch: arch, ...(libc === 'musl' ? { LIBC: 'musl' } : {}) },
  }).trim();
  assert.equal(resolveFor('x64', 'musl'), prebuildPath('x64-musl'));
  assert.equal(resolveFor('arm64', 'musl'), prebuildPath('arm64-musl'));
  assert.equal(resolveFor('arm64', 'glibc'), prebuildPath('arm64-glibc'));
  // x64 glibc (prebuildify's, made when packing): test:pack checks that an install picks it.
});
