// A throwaway project with this checkout's pidguard installed in its node_modules, as `npm install`
// would leave it: real copies of package.json, dist/ and the built addon, with pidguard's runtime
// dependencies beside it. Bun, Deno and the arm64 Node run their scripts from such a project.
//
// Copies, not a symlink to the checkout: Deno treats a package as an npm package (and so detects
// its CommonJS) only when the file's real path is inside node_modules; through a symlink it would
// see dist/index.js as this checkout's own ES module code and fail on `exports`.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { root } from './packages.mjs';

/** The directory of package `name` as Node would find it from `fromDir` (walking up node_modules). */
function packageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === path.dirname(dir)) throw new Error(`${name} is not installed (from ${fromDir}): run npm ci`);
  }
}

/** Copies the runtime dependencies of the package at `from`, recursively, keeping their nesting. */
function copyDependencies(from, target, seen) {
  const { dependencies = {} } = JSON.parse(readFileSync(path.join(from, 'package.json'), 'utf8'));
  for (const name of Object.keys(dependencies)) {
    const source = packageDir(name, from);
    if (seen.has(source)) continue;
    seen.add(source);
    const relative = path.relative(root, source);
    if (relative.startsWith('..')) throw new Error(`${source} is outside ${root}`);
    cpSync(source, path.join(target, relative), { recursive: true });
    copyDependencies(source, target, seen);
  }
}

/**
 * Lays out a project in `dir` (which must exist) with pidguard installed, and `scripts` (paths)
 * copied to its top. `addons` maps a path inside the installed package (`build/Release/pidguard.node`,
 * `prebuilds/linux-arm64/pidguard.glibc.node`) to the addon file to put there. Returns `dir`.
 */
export function makeProject(dir, { addons, scripts = [] }) {
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'pidguard-runtime-check', version: '1.0.0', private: true, type: 'module', dependencies: { pidguard: '*' } }));
  const installed = path.join(dir, 'node_modules', 'pidguard');
  mkdirSync(installed, { recursive: true });
  if (!existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run npx tsc -p tsconfig.json');
  cpSync(path.join(root, 'package.json'), path.join(installed, 'package.json'));
  cpSync(path.join(root, 'dist'), path.join(installed, 'dist'), { recursive: true });
  for (const [where, file] of Object.entries(addons)) {
    if (!existsSync(file)) throw new Error(`${file} is missing: build the addon first`);
    mkdirSync(path.dirname(path.join(installed, where)), { recursive: true });
    cpSync(file, path.join(installed, where));
  }
  // Hoisted beside pidguard, as npm would install them.
  copyDependencies(root, dir, new Set());
  for (const script of scripts) cpSync(script, path.join(dir, path.basename(script)));
  return dir;
}
