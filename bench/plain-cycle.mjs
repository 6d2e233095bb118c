// The plain lock() cycle on an existing data file, uncontended: pidguard's lock() and lockSync()
// (which never write, truncate or remove the file) beside fs-ext's and fs-native-extensions' open +
// lock + unlock + close of the same file, and the same system calls from C (bench/floor-plain.c).
// The rows take turns in rounds, as in cycle.mjs, so that they see the same file-system noise.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { lock, lockSync } from 'pidguard';
import { fileSystemName } from './cycle.mjs';
import { row, summarize } from './stats.mjs';

const require = createRequire(import.meta.url);
const fsx = require('fs-native-extensions');
const fsExt = require('fs-ext');
const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = 6;
const FLOOR_CYCLES_PER_ROUND = 4000;
const TASK_TIME_MS = Number(process.env.CYCLE_MS ?? 1800);

function buildFloor(workDir) {
  const binary = path.join(workDir, 'floor-plain');
  const built = spawnSync('cc', ['-O2', '-o', binary, path.join(here, 'floor-plain.c')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cc bench/floor-plain.c failed: ${built.stderr || built.error}`);
  return binary;
}

export async function plainCycleRows(dir, workDir) {
  const scenario = `plain lock() cycle on an existing data file, ${dir} (${fileSystemName(dir)})`;
  const file = path.join(dir, `pidguard-bench-${process.pid}.data`);
  fs.writeFileSync(file, 'data that is never written by a lock\n');
  const tasks = {
    'pidguard lockSync + release': () => lockSync(file).release(),
    'pidguard lock + release (async)': async () => (await lock(file)).release(),
    'fs-ext open + flockSync ex + un + close': () => {
      const fd = fs.openSync(file, 'r');
      fsExt.flockSync(fd, 'exnb');
      fsExt.flockSync(fd, 'un');
      fs.closeSync(fd);
    },
    // Opened for writing: its exclusive lock is an fcntl write lock, which a read-only descriptor cannot take.
    'fs-native-extensions open (r+) + tryLock + unlock + close': () => {
      const fd = fs.openSync(file, 'r+');
      fsx.tryLock(fd);
      fsx.unlock(fd);
      fs.closeSync(fd);
    },
  };
  try {
    const floorBinary = buildFloor(workDir);
    const floor = [];
    const samples = new Map();
    for (let round = 0; round < ROUNDS; round += 1) {
      const result = spawnSync(floorBinary, [file, String(FLOOR_CYCLES_PER_ROUND)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      if (result.status !== 0) throw new Error(`floor-plain failed: ${result.stderr}`);
      floor.push(...result.stdout.trim().split('\n').map((line) => Number(line) / 1000));
      const bench = new Bench({ time: TASK_TIME_MS / ROUNDS, warmupTime: 50, retainSamples: true });
      for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn);
      await bench.run();
      for (const task of bench.tasks) {
        if (task.result.state !== 'completed') throw new Error(`${task.name}: ${task.result.state} ${task.result.error ?? ''}`);
        samples.set(task.name, [...(samples.get(task.name) ?? []), ...Array.from(task.result.latency.samples, (ms) => ms * 1000)]);
      }
    }
    const [first, ...rest] = samples.keys();
    return [
      row(scenario, first, summarize(samples.get(first)), 'µs'),
      row(scenario, 'C floor: the same system calls (bench/floor-plain.c)', summarize(floor), 'µs'),
      ...rest.map((name) => row(scenario, name, summarize(samples.get(name)), 'µs')),
    ];
  } finally {
    fs.rmSync(file, { force: true });
  }
}
