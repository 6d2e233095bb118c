// `npm run prebuild`: the prebuilt addons that ship in the package, so that installing it needs
// no compiler: linux-x64 glibc with prebuildify (node-gyp, this machine's own build), and
// cross-compiled from Debian's compilers: linux-x64 musl, linux-arm64 glibc and musl
// (scripts/cross/build.mjs) and win32-x64 (mingw-w64, scripts/windows/build.mjs).
// Node-API (NAPI_VERSION 8) makes one binary per platform serve every Node version from 20 on.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { buildLinux, TARGETS } from './cross/build.mjs';
import { buildWin32 } from './windows/build.mjs';
import { root } from './windows/wine.mjs';

const prebuildify = createRequire(import.meta.url).resolve('prebuildify/bin.js');
// The target is this Node, whose headers are here (npm's nodedir), so nothing is downloaded.
execFileSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--target', process.versions.node], {
  cwd: root,
  stdio: 'inherit',
});
for (const target of Object.keys(TARGETS)) buildLinux(target);
buildWin32();
