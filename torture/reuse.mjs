// Stale PIDs reused by live unrelated processes while flock(1), `pidguard run` and library
// holders come and go: `pidguard stop` must never signal a process that does not hold the lock.
// The rounds run in torture/reuse-run.mjs; as root they run in a PID namespace of their own,
// where a killed holder's PID is really given to another process (ns_last_pid) and whose init is
// a decoy too. Without root the reuse is only written into the file, and the report says so.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { check, here, scratch } from './lib.mjs';

const decoyScript = path.join(here, '..', 'test', 'fixtures', 'decoy.py');

export async function reuse({ rounds }) {
  const { dir, cleanup } = scratch('reuse');
  try {
    const own = process.getuid?.() === 0;
    const run = [path.join(here, 'reuse-run.mjs'), dir, String(rounds), own ? '1' : '0'];
    const [command, args] = own
      ? ['unshare', ['--pid', '--fork', '--mount-proc', 'python3', decoyScript, path.join(dir, 'init.ready'), process.execPath, ...run]]
      : [process.execPath, run];
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = [];
    readline.createInterface({ input: proc.stdout }).on('line', (line) => lines.push(line));
    const { code, signal } = await new Promise((resolve) => proc.once('close', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal })));
    // The controller's report, then (in a namespace of its own) the line of its init, a decoy.
    const [reportLine, initLine] = own ? lines.slice(-2) : lines.slice(-1);
    const report = JSON.parse(reportLine ?? '{"error":"no report"}');
    check(report.error === undefined, `reuse: ${report.error}`);
    check(code === 0 && signal === null, `reuse: the controller exited ${code ?? signal}`);
    if (own) check(initLine === '{"pending": []}', `reuse: the namespace's init, a decoy, was signalled: ${initLine}`);
    return { ...report, namespace: own ? 'own, PIDs really reused' : 'none (not root): reuse only written into the file' };
  } finally {
    cleanup();
  }
}
