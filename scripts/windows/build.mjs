// `npm run build:win32`: cross-compiles the addon for win32-x64 on this Linux machine with
// mingw-w64, against node-api-headers. Node-API functions live in node.exe, so the addon links
// against an import library made from node-api-headers' list of them (node_api.def).
// Writes build/win32-x64/pidguard.node and the prebuild prebuilds/win32-x64/pidguard.node.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonBuild } from '../cross/gyp.mjs';
import { ensureCommands } from './debian-packages.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(root, 'build', 'win32-x64');
const prebuild = path.join(root, 'prebuilds', 'win32-x64', 'pidguard.node');
const CC = 'x86_64-w64-mingw32-gcc';
const DLLTOOL = 'x86_64-w64-mingw32-dlltool';

export function buildWin32({ quiet = false } = {}) {
  ensureCommands({ [CC]: 'gcc-mingw-w64-x86-64', [DLLTOOL]: 'binutils-mingw-w64-x86-64' });
  // binding.gyp's sources and defines for Windows, read now: never a stale copy of its list.
  const { sources, defines } = addonBuild('win');
  const headers = path.dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json'));
  mkdirSync(out, { recursive: true });
  const importLib = path.join(out, 'libnode.a');
  const addon = path.join(out, 'pidguard.node');
  const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: quiet ? 'pipe' : 'inherit' });

  run(DLLTOOL, ['-d', path.join(headers, 'def', 'node_api.def'), '-l', importLib, '-D', 'node.exe']);
  run(CC, [
    '-shared', '-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror',
    ...defines.map((d) => `-D${d}`),
    '-I', path.join(headers, 'include'),
    ...sources,
    importLib,
    // No libgcc DLL to ship: the addon needs only system DLLs and node.exe.
    '-static-libgcc', '-s',
    '-o', addon,
  ]);
  mkdirSync(path.dirname(prebuild), { recursive: true });
  // Replaced by a rename, never rewritten in place: a running node.exe may have the old one mapped.
  copyFileSync(addon, `${prebuild}.tmp`);
  renameSync(`${prebuild}.tmp`, prebuild);
  if (!quiet) console.log(`built ${path.relative(root, addon)} and ${path.relative(root, prebuild)}`);
  return addon;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildWin32();
