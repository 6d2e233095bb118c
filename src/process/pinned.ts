// A process pinned before it is signalled: on Linux a pidfd, through which a signal reaches the
// process that was pinned or nobody, never one given its PID after that process ended. `stop`
// pins the holder, then proves again that it holds the lock, then signals the pin: the holder
// cannot be swapped for an unrelated process between the proof and the signal. Elsewhere (other
// systems, Linux before 5.3, a seccomp policy refusing pidfd_open, no addon) the PID is signalled,
// as kill(1) does, and the pin is only a name.
//
// The proof reads /proc, which numbers processes as the PID namespace it was mounted for does;
// kill(2) and pidfd_open(2) take this process's own numbering. The two differ where /proc was
// not mounted anew for this process's namespace (`unshare --pid --fork` without --mount-proc):
// the number /proc proves is then another process here. A pin is taken only where they agree.
import fs from 'node:fs';
import { constants } from 'node:os';
import { binding, isNativeError } from '../addon/binding';

export interface PinnedProcess {
  readonly pid: number;
  /** Whether a signal can reach only the pinned process (a pidfd), or goes to whoever has its PID. */
  readonly pinned: boolean;
  /** Sends `signal`; throws as process.kill does (code ESRCH once it has ended, EPERM, ...). */
  signal(signal: NodeJS.Signals): void;
  /** Lets the pin go (idempotent). */
  close(): void;
}

/** A pin, or why there is none: the process has ended ('gone'), or it cannot be pinned safely ('refused'). */
export type Pinning = { kind: 'pinned'; pin: PinnedProcess } | { kind: 'gone' } | { kind: 'refused'; why: string };

function byPid(pid: number): PinnedProcess {
  return { pid, pinned: false, signal: (signal) => void process.kill(pid, signal), close: () => undefined };
}

function procListsProcesses(): boolean {
  try {
    return fs.existsSync('/proc/1');
  } catch {
    return false; // a runtime that refuses to look (Deno without --allow-read)
  }
}

/** Why /proc's numbers are not this process's, or null when they are (or there is no /proc). */
function foreignProc(): string | null {
  let self: string;
  try {
    self = fs.readlinkSync('/proc/self');
  } catch {
    // No /proc (nothing was proven by it), or one mounted for a namespace that cannot see this process.
    return procListsProcesses()
      ? '/proc numbers processes for another PID namespace (it does not show this process)'
      : null;
  }
  return self === String(process.pid)
    ? null
    : `/proc numbers processes for another PID namespace (it calls this process ${self}, which is ${process.pid} here)`;
}

/**
 * The PID, in /proc's numbering, of the process pidfd `fd` pins: /proc/self/fdinfo says so (Linux
 * 5.3 and later); undefined where it does not tell, -1 once the process has ended, 0 when /proc's
 * namespace cannot see it.
 */
function pinnedPidInProc(fd: number): number | undefined {
  try {
    const match = /^Pid:\s*(-?\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Pins process `pid`, the number /proc proved. */
export function pinProcess(pid: number): Pinning {
  if (process.platform === 'linux') {
    const foreign = foreignProc();
    if (foreign !== null) return { kind: 'refused', why: foreign };
  }
  let addon;
  let fd: number;
  try {
    addon = binding();
    fd = addon.openProcess(pid);
  } catch (error) {
    const code = isNativeError(error) ? error.code : null;
    if (code === 'ESRCH') return { kind: 'gone' };
    // No pidfd here (ENOSYS), or no addon: by PID, as kill(1).
    if (code === 'ENOSYS' || code === null) return { kind: 'pinned', pin: byPid(pid) };
    // A thread that is not its process's main thread (EINVAL or ENOENT, by kernel version); EMFILE,
    // ENOMEM: no pin to be had.
    // Never by PID then: that is the race the pin is there to close.
    return { kind: 'refused', why: `cannot pin PID ${pid} (pidfd_open: ${code})` };
  }
  const native = addon;
  const seen = pinnedPidInProc(fd);
  if (seen !== undefined && seen !== pid) {
    native.closeDescriptor(fd);
    if (seen === -1) return { kind: 'gone' };
    return { kind: 'refused', why: `PID ${pid} here is not the process /proc calls ${pid}` };
  }
  let open = true;
  const pin: PinnedProcess = {
    pid,
    pinned: true,
    signal(signal) {
      if (!open) throw new Error(`the pin on PID ${pid} was let go`);
      native.signalProcess(fd, constants.signals[signal]);
    },
    close() {
      if (open) native.closeDescriptor(fd);
      open = false;
    },
  };
  return { kind: 'pinned', pin };
}
