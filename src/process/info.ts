// What the platform tells about another process, for messages that say what is running.
import fs from 'node:fs';
import { formatCommandLine } from './command-line';
import { binding } from '../addon/binding';
import { bootTimeMs, parseProcStat, parseUptime, startTimeMs } from './proc-stat';

/**
 * Whether a process with this PID exists, as far as this process can tell: EPERM from a signal-0
 * probe means it exists but belongs to someone else. PIDs are per PID namespace: a process in
 * another container's namespace is not seen.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // Only ESRCH says there is no such process; EPERM: it exists, someone else's. A runtime that
    // will not ask (Deno without --allow-run throws NotCapable, with no errno) says nothing, and
    // a live holder must never be taken for a dead one.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Whether process `pid` is running: it exists and, where /proc tells, is not a zombie (a process
 * that has died and released its locks, waiting for its parent to reap it).
 */
export function processRunning(pid: number): boolean {
  if (!processExists(pid)) return false;
  if (process.platform !== 'linux') return true;
  const statText = readProcText(`/proc/${pid}/stat`);
  return statText === null || parseProcStat(statText)?.state !== 'Z';
}

/**
 * The command line of process `pid`, as a shell would show it, where the platform tells it
 * (Linux: /proc/<pid>/cmdline); null elsewhere, or when the process is gone or hides it.
 */
export function readCommandLine(pid: number): string | null {
  if (process.platform !== 'linux') return null;
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null; // gone, or /proc mounted with hidepid
  }
  // Arguments end with NUL each; a kernel thread or a zombie has none.
  const args = raw.split('\0');
  if (args.at(-1) === '') args.pop();
  return args.length === 0 ? null : formatCommandLine(args);
}

/** What the stale-PID fallback needs to know of the process a PID file names. */
export interface ProcessFacts {
  /** A process with this PID exists (a zombie counts as not existing: it has ended). */
  exists: boolean;
  /** When it started, in ms on Date.now()'s clock; null where the platform does not tell (Linux and Windows do). */
  startedAtMs: number | null;
}

function readProcText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return null;
  }
}

/** Past this much drift from a fresh estimate, the wall clock was set: estimate boot time anew. */
const CLOCK_STEP_MS = 100;
let bootMs: number | null = null;

/**
 * When the machine booted, on Date.now()'s clock. Each estimate is off by up to 10 ms (/proc/uptime
 * has two decimals), so one is kept, and replaced only when the wall clock has been stepped: the
 * same process then reports the same start time every time it is asked.
 */
function bootTime(uptimeSeconds: number, nowMs: number): number {
  const fresh = bootTimeMs(uptimeSeconds, nowMs);
  if (bootMs === null || Math.abs(fresh - bootMs) > CLOCK_STEP_MS) bootMs = fresh;
  return bootMs;
}

/**
 * Windows: the process's creation time from the addon (GetProcessTimes). The fallback may be in
 * use because the addon cannot load; then the start time is unknown, as on other platforms.
 */
function windowsStartTime(pid: number): number | null {
  try {
    return binding().processStartTime(pid);
  } catch {
    return null;
  }
}

/** Whether process `pid` exists and when it started, as far as this platform tells. */
export function readProcessFacts(pid: number): ProcessFacts {
  if (!processExists(pid)) return { exists: false, startedAtMs: null };
  if (process.platform === 'win32') return { exists: true, startedAtMs: windowsStartTime(pid) };
  if (process.platform !== 'linux') return { exists: true, startedAtMs: null };
  const statText = readProcText(`/proc/${pid}/stat`);
  const uptimeText = readProcText('/proc/uptime');
  const now = Date.now();
  const stat = statText === null ? null : parseProcStat(statText);
  const uptime = uptimeText === null ? null : parseUptime(uptimeText);
  // Gone between the two looks, or /proc hides it (hidepid): it exists, start unknown.
  if (stat === null || uptime === null) return { exists: statText !== null || processExists(pid), startedAtMs: null };
  if (stat.state === 'Z') return { exists: false, startedAtMs: null };
  return { exists: true, startedAtMs: startTimeMs(stat, bootTime(uptime, now)) };
}
