// What the platform tells about another process, for messages that say what is running.
import fs from 'node:fs';
import { formatCommandLine } from './command-line';

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
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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
