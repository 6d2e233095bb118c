// A process pinned before it is signalled: on Linux a pidfd, through which a signal reaches the
// process that was pinned or nobody, never one given its PID after that process ended. `stop`
// pins the holder, then proves again that it holds the lock, then signals the pin: the holder
// cannot be swapped for an unrelated process between the proof and the signal. Elsewhere (other
// systems, Linux before 5.3, a seccomp policy refusing pidfd_open, no addon) the PID is signalled,
// as kill(1) does, and the pin is only a name.
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

function byPid(pid: number): PinnedProcess {
  return { pid, pinned: false, signal: (signal) => void process.kill(pid, signal), close: () => undefined };
}

/** Pins process `pid`; null when it no longer runs. */
export function pinProcess(pid: number): PinnedProcess | null {
  let addon;
  let fd: number;
  try {
    addon = binding();
    fd = addon.openProcess(pid);
  } catch (error) {
    if (isNativeError(error) && error.code === 'ESRCH') return null;
    return byPid(pid); // no pidfd here (ENOSYS), or no addon: by PID
  }
  const native = addon;
  let open = true;
  return {
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
}
