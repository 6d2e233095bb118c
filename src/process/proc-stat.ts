// Linux's /proc/<pid>/stat and /proc/uptime: a process's state and when it started. Pure.

/** Clock ticks per second in /proc/<pid>/stat: USER_HZ, 100 in the kernel ABI of every Linux architecture Node runs on. */
export const USER_HZ = 100;

export interface ProcStat {
  /** One letter: R, S, D, Z (zombie: dead, not yet reaped), T, ... */
  state: string;
  /** When the process started, in clock ticks since boot (field 22). */
  startTicks: number;
}

/**
 * Parses /proc/<pid>/stat. The second field, the command name in parentheses, may itself hold
 * spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcStat | null {
  const end = text.lastIndexOf(')');
  if (end < 0) return null;
  const fields = text
    .slice(end + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  const state = fields[0];
  const startText = fields[19];
  if (state === undefined || startText === undefined || !/^\d+$/.test(startText)) return null;
  return { state, startTicks: Number(startText) };
}

/** Parses /proc/uptime: the seconds since boot (its first number). */
export function parseUptime(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s/.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** When the machine booted, in ms on Date.now()'s clock, from the seconds since boot read at `nowMs`. */
export function bootTimeMs(uptimeSeconds: number, nowMs: number): number {
  return nowMs - uptimeSeconds * 1000;
}

/** When a process started, in ms on Date.now()'s clock: boot time plus its start in ticks since boot. */
export function startTimeMs(stat: ProcStat, bootMs: number): number {
  return bootMs + (stat.startTicks * 1000) / USER_HZ;
}
