// `npm run build:cross`: the addon for the Linux targets this x64 glibc machine cannot build with
// node-gyp, cross-compiled with Debian's compilers from binding.gyp's POSIX sources, against
// node-api-headers: linux-x64 musl (musl-tools' musl-gcc), linux-arm64 glibc
// (gcc-aarch64-linux-gnu) and linux-arm64 musl (the same compiler over Debian's arm64 musl, see
// musl-arm64.mjs). Each is written to build/linux-<arch>-<libc>/pidguard.node and to its prebuild,
// prebuilds/linux-<arch>/pidguard.<libc>.node: prebuildify's naming, whose libc tag node-gyp-build
// matches (musl where /etc/alpine-release exists or LIBC=musl, else glibc).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCommands } from '../windows/debian-packages.mjs';
import { addonBuild } from './gyp.mjs';
import { ensureMuslArm64, specs as muslArm64Specs } from './musl-arm64.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Each target: how to get its compiler, and the compiler command. */
export const TARGETS = {
  'x64-musl': {
    arch: 'x64', libc: 'musl', machine: 'Advanced Micro Devices X86-64',
    prepare: () => ensureCommands({ 'musl-gcc': 'musl-tools' }),
    compiler: () => ['musl-gcc'],
  },
  'arm64-glibc': {
    arch: 'arm64', libc: 'glibc', machine: 'AArch64',
    // The compiler only recommends the arm64 glibc headers and libraries, so they are asked for by name.
    prepare: () => ensureCommands({ 'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu', '/usr/aarch64-linux-gnu/include/stdio.h': 'libc6-dev-arm64-cross' }),
    compiler: () => ['aarch64-linux-gnu-gcc'],
  },
  'arm64-musl': {
    arch: 'arm64', libc: 'musl', machine: 'AArch64',
    prepare: () => {
      ensureCommands({ 'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu' });
      ensureMuslArm64();
    },
    // Debian's aarch64 GCC calls libgcc's out-of-line atomics, which ask glibc's own __getauxval
    // whether the CPU has LSE: musl has no such symbol, and the addon would not load. Inline
    // atomics (LL/SC, every ARMv8) need nothing from the C library.
    compiler: () => ['aarch64-linux-gnu-gcc', '-specs', muslArm64Specs, '-mno-outline-atomics'],
  },
};

/** The prebuild's path for a target: prebuilds/linux-<arch>/pidguard.<libc>.node. */
export function prebuildPath(name) {
  const { arch, libc } = TARGETS[name];
  return path.join(root, 'prebuilds', `linux-${arch}`, `pidguard.${libc}.node`);
}

/** Builds target `name` ('x64-musl', 'arm64-glibc', 'arm64-musl'); returns the addon's path. */
export function buildLinux(name, { quiet = false } = {}) {
  const target = TARGETS[name];
  if (target === undefined) throw new Error(`no cross target ${name}; one of ${Object.keys(TARGETS).join(', ')}`);
  target.prepare();
  const { sources, defines, cflags } = addonBuild('posix');
  const headers = path.dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json'));
  const out = path.join(root, 'build', `linux-${target.arch}-${target.libc}`);
  mkdirSync(out, { recursive: true });
  const addon = path.join(out, 'pidguard.node');
  const [cc, ...ccArgs] = target.compiler();
  execFileSync(cc, [
    ...ccArgs,
    // node-gyp's flags for a Linux addon, with binding.gyp's own, and warnings as errors, as the
    // win32 build has: a warning only one libc or one architecture shows fails here, not later.
    '-shared', '-fPIC', '-pthread', '-O3', '-fno-omit-frame-pointer', ...cflags, '-Werror',
    ...defines.map((define) => `-D${define}`),
    '-I', path.join(headers, 'include'),
    ...sources,
    '-s',
    '-o', addon,
  ], { cwd: root, stdio: quiet ? 'pipe' : 'inherit' });
  const header = execFileSync('readelf', ['-h', addon], { encoding: 'utf8' });
  if (!header.includes(target.machine)) throw new Error(`${addon} is not built for ${target.machine}:\n${header}`);
  const prebuild = prebuildPath(name);
  mkdirSync(path.dirname(prebuild), { recursive: true });
  // Replaced by a rename, never rewritten in place: a running process may have the old one mapped.
  copyFileSync(addon, `${prebuild}.tmp`);
  renameSync(`${prebuild}.tmp`, prebuild);
  if (!quiet) console.log(`built ${path.relative(root, addon)} and ${path.relative(root, prebuild)}`);
  return addon;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of process.argv.length > 2 ? process.argv.slice(2) : Object.keys(TARGETS)) buildLinux(name);
}
