// Cost of loading: the time `require()` takes in a fresh process (node's own start-up excluded),
// and, for pidguard, the first lock too, which loads the native addon.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { summarize } from './stats.mjs';

const require = createRequire(import.meta.url);

function timeInFreshProcess(code) {
  const result = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return Number(result.stdout);
}

export function requireCost(moduleName, rounds) {
  const resolved = JSON.stringify(require.resolve(moduleName));
  const code = `const t = process.hrtime.bigint(); require(${resolved}); console.log(Number(process.hrtime.bigint() - t) / 1e6);`;
  return summarize(Array.from({ length: rounds }, () => timeInFreshProcess(code)));
}

export function requireAndFirstLockCost(rounds) {
  const resolved = JSON.stringify(require.resolve('pidguard'));
  const file = JSON.stringify(path.join(os.tmpdir(), `pidguard-bench-load-${process.pid}.pid`));
  const code = `const t = process.hrtime.bigint(); require(${resolved}).acquireSync(${file}).release(); console.log(Number(process.hrtime.bigint() - t) / 1e6);`;
  return summarize(Array.from({ length: rounds }, () => timeInFreshProcess(code)));
}
