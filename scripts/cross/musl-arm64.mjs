// An arm64 musl sysroot from Debian's own musl and musl-dev packages for arm64, for building the
// linux-arm64 musl addon with Debian's aarch64 cross compiler, and for running arm64 musl programs
// under qemu-user. Debian ships musl for arm64 only as arm64 packages, which this amd64 machine
// cannot install without making arm64 a foreign architecture of the whole system; instead apt-get
// downloads them with a package list of its own (in .cache/, leaving the system's apt state alone)
// and dpkg-deb unpacks them into .cache/musl-arm64/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cache = path.join(root, '.cache', 'musl-arm64');
export const sysroot = path.join(cache, 'sysroot');
/** The GCC specs that point Debian's aarch64-linux-gnu-gcc at the sysroot, as musl-gcc does for x64. */
export const specs = path.join(cache, 'musl-gcc.specs');
/** musl's dynamic loader, which is also its libc. */
export const loader = path.join(sysroot, 'lib', 'ld-musl-aarch64.so.1');

/** Downloads and unpacks musl and musl-dev for arm64 unless already there; returns the sysroot. */
export function ensureMuslArm64() {
  if (existsSync(specs) && existsSync(path.join(sysroot, 'lib', 'aarch64-linux-musl', 'libc.so'))) return sysroot;
  const state = path.join(cache, 'apt');
  const downloads = path.join(cache, 'debs');
  rmSync(cache, { recursive: true, force: true });
  for (const dir of [path.join(state, 'lists', 'partial'), path.join(state, 'archives', 'partial'), downloads]) mkdirSync(dir, { recursive: true });
  const apt = (args) => execFileSync('apt-get', [
    '-qq',
    '-o', `Dir::State::Lists=${path.join(state, 'lists')}`,
    '-o', `Dir::Cache=${state}`,
    '-o', 'APT::Architecture=arm64',
    '-o', 'APT::Architectures::=arm64',
    '-o', 'APT::Sandbox::User=root',
    ...args,
  ], { cwd: downloads, stdio: ['ignore', 'inherit', 'inherit'] });
  console.error("fetching Debian's musl and musl-dev for arm64 (a package list of their own, in .cache/musl-arm64/)");
  apt(['update']);
  apt(['download', 'musl:arm64', 'musl-dev:arm64']);
  const partial = `${sysroot}.partial`;
  mkdirSync(partial, { recursive: true });
  for (const deb of readdirSync(downloads).filter((name) => name.endsWith('.deb'))) {
    execFileSync('dpkg-deb', ['-x', path.join(downloads, deb), partial]);
  }
  renameSync(partial, sysroot);
  // Debian's specs for this musl, with every absolute path moved into the sysroot.
  const original = readFileSync(path.join(sysroot, 'usr', 'lib', 'aarch64-linux-musl', 'musl-gcc.specs'), 'utf8');
  const moved = original
    .replaceAll('/usr/include/aarch64-linux-musl', path.join(sysroot, 'usr', 'include', 'aarch64-linux-musl'))
    .replaceAll('/usr/lib/aarch64-linux-musl', path.join(sysroot, 'usr', 'lib', 'aarch64-linux-musl'))
    // libc.so itself is in /lib/aarch64-linux-musl (the musl package), beside the loader.
    .replace('*link_libgcc:\n', `*link_libgcc:\n-L${path.join(sysroot, 'lib', 'aarch64-linux-musl')} `);
  writeFileSync(specs, moved);
  rmSync(path.join(cache, 'apt'), { recursive: true, force: true });
  return sysroot;
}
