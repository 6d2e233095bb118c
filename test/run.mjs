// npm test: every suite with the kernel lock (the default mode here), then the mode-neutral
// suites again in mode 'pidfile', the stale-PID fallback: one behaviour, two mechanisms.
// Each pass prints node:test's own report and summary; the exit status is non-zero if any failed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const suites = fs.readdirSync(here).filter((name) => name.endsWith('.test.mjs')).sort();
/** The suites whose every test holds in both modes (each marks what only the kernel lock does). */
const modeNeutral = ['api.test.mjs', 'processes.test.mjs', 'faults.test.mjs'];

const passes = [
  { name: 'kernel lock, all suites', mode: undefined, files: suites },
  { name: "mode 'pidfile' (PIDGUARD_MODE=pidfile), the mode-neutral suites", mode: 'pidfile', files: modeNeutral },
];

let failed = false;
for (const { name, mode, files } of passes) {
  process.stdout.write(`\n# suites run: ${name}\n`);
  const env = { ...process.env };
  if (mode === undefined) delete env.PIDGUARD_MODE;
  else env.PIDGUARD_MODE = mode;
  const result = spawnSync(process.execPath, ['--test', ...files.map((file) => path.join(here, file))], { stdio: 'inherit', env });
  if (result.status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
