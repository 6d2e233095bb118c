// Uncontended cycle: take the lock and give it back, nobody else around. pidguard's full PID-file
// cycle (PID written, file removed) beside the same system calls from C (the floor), the raw
// lock of fs-ext and fs-native-extensions on a file kept open (less work than a PID file), and
// the lock files of proper-lockfile and lockfile. In-process timings by tinybench.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { acquire, acquireSync } from 'pidguard';
import { row, summarize } from './stats.mjs';

const require = createRequire(import.meta.url);
const fsx = require('fs-native-extensions');
const fsExt = require('fs-ext');
const properLockfile = require('proper-lockfile');
const lockfile = require('lockfile');

const here = path.dirname(fileURLToPath(import.meta.url));
// The file system's background work (ext4's journal commits, writeback) comes in bursts, so the
// rows take turns: ROUNDS rounds, each running the floor and then every task for a slice of time.
const ROUNDS = 6;
const FLOOR_CYCLES_PER_ROUND = 4000;
const TASK_TIME_MS = Number(process.env.CYCLE_MS ?? 1800);

const TMPFS_MAGIC = 0x01021994;
const EXT4_MAGIC = 0xef53;

/** A short name for the file system under `dir`, for the scenario column. */
export function fileSystemName(dir) {
  const { type } = fs.statfsSync(dir);
  return type === TMPFS_MAGIC ? 'tmpfs' : type === EXT4_MAGIC ? 'ext4' : `fs 0x${type.toString(16)}`;
}

/** Builds bench/floor.c with the system's C compiler into `workDir`. */
function buildFloor(workDir) {
  const binary = path.join(workDir, 'floor');
  const built = spawnSync('cc', ['-O2', '-o', binary, path.join(here, 'floor.c')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cc bench/floor.c failed: ${built.stderr || built.error}`);
  return binary;
}

function floorSamples(binary, file) {
  const result = spawnSync(binary, [file, String(FLOOR_CYCLES_PER_ROUND)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`floor failed: ${result.stderr}`);
  return result.stdout.trim().split('\n').map((line) => Number(line) / 1000);
}

/** Runs `tasks` ({ name: fn }) with tinybench; returns their latency samples in µs. */
async function measure(tasks) {
  const bench = new Bench({ time: TASK_TIME_MS / ROUNDS, warmupTime: 50, retainSamples: true });
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn);
  await bench.run();
  return new Map(bench.tasks.map((task) => {
    if (task.result.state !== 'completed') throw new Error(`${task.name}: ${task.result.state} ${task.result.error ?? ''}`);
    return [task.name, Array.from(task.result.latency.samples, (msValue) => msValue * 1000)];
  }));
}

export async function cycleRows(dir, workDir) {
  const scenario = `uncontended cycle, ${dir} (${fileSystemName(dir)})`;
  const pidFile = path.join(dir, `pidguard-bench-${process.pid}.pid`);
  const rawFile = path.join(dir, `pidguard-bench-${process.pid}.raw`);
  const lockFile = path.join(dir, `pidguard-bench-${process.pid}.lockfile`);
  const rawFd = fs.openSync(rawFile, 'a+');
  try {
    const floorBinary = buildFloor(workDir);
    const floor = [];
    const samples = new Map();
    for (let round = 0; round < ROUNDS; round += 1) {
      floor.push(...floorSamples(floorBinary, pidFile));
      for (const [name, taken] of await measure(tasks())) samples.set(name, [...(samples.get(name) ?? []), ...taken]);
    }
    const [first, ...rest] = samples.keys();
    return [
      row(scenario, first, summarize(samples.get(first)), 'µs'),
      row(scenario, 'C floor: the same system calls (bench/floor.c)', summarize(floor), 'µs', 'target: pidguard sync at most 1.5x this'),
      ...rest.map((name) => row(scenario, name, summarize(samples.get(name)), 'µs')),
    ];
  } finally {
    fs.closeSync(rawFd);
    for (const file of [rawFile, pidFile, lockFile]) fs.rmSync(file, { force: true });
  }

  function tasks() {
    return {
      'pidguard acquireSync + release': () => acquireSync(pidFile).release(),
      'pidguard acquire + release (async)': async () => (await acquire(pidFile)).release(),
      'fs-ext flockSync ex + un (file kept open)': () => {
        fsExt.flockSync(rawFd, 'exnb');
        fsExt.flockSync(rawFd, 'un');
      },
      'fs-native-extensions tryLock + unlock (file kept open)': () => {
        fsx.tryLock(rawFd);
        fsx.unlock(rawFd);
      },
      'proper-lockfile lockSync + release': () => properLockfile.lockSync(pidFile, { realpath: false })(),
      'proper-lockfile lock + release (async)': async () => (await properLockfile.lock(pidFile, { realpath: false }))(),
      'lockfile lockSync + unlockSync': () => {
        lockfile.lockSync(lockFile);
        lockfile.unlockSync(lockFile);
      },
    };
  }
}
