// Installs the Debian packages a Windows build or test needs, when their commands are missing:
// the project's own files install what its checks use, never a person by hand.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

let updated = false;

/** A command on PATH, or a program at an absolute path. */
function has(command) {
  if (command.startsWith('/')) return existsSync(command);
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * needs: { command: package } — installs each package whose command is missing.
 * Throws with what to install when it cannot (not root, or not Debian).
 */
export function ensureCommands(needs) {
  const missing = [...new Set(Object.entries(needs).filter(([command]) => !has(command)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    throw new Error(`missing ${Object.keys(needs).filter((c) => !has(c)).join(', ')}: install the Debian packages ${missing.join(' ')}`);
  }
  console.error(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  updated = true;
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}
