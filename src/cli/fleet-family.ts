// The processes of a fleet `run`'s command, and stopping all of them when the lock is lost. The
// command inherits the command session's socket (src/postgres/command-session.ts), and so does
// every process it starts that does not close it: on Linux those are found by that socket in
// /proc/<pid>/fd, wherever they were reparented (a shell's children outlive the shell); the
// server frees the command key once they are all gone. Elsewhere the family is the command alone.
import fs from 'node:fs';
import type { Command } from './command';

/** How often the family is looked at again while it is being stopped. */
const POLL_MS = 50;

/** What a descriptor of the socket with inode `inode` reads as in /proc/<pid>/fd. */
export function socketLink(inode: bigint | number): string {
  return `socket:[${inode}]`;
}

/**
 * Every process but `self` with a descriptor reading `link` in /proc/<pid>/fd. A process whose
 * descriptors this one may not read (another user's) is not found: the family stops at it.
 */
export function processesHolding(link: string, self: number = process.pid): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === self) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not this user's
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue; // closed since the listing
      }
      if (target === link) {
        found.push(Number(entry));
        break;
      }
    }
  }
  return found;
}

/** The command and the processes that share its session's socket. */
export class CommandFamily {
  readonly #command: Command;
  readonly #pid: number;
  readonly #link: string | null;
  #ended = false;

  /**
   * `pid`: the command's; `socketFd`: this process's descriptor of the socket the command
   * inherited, null when none was handed on.
   */
  constructor(command: Command, pid: number, socketFd: number | null) {
    this.#command = command;
    this.#pid = pid;
    void command.ended.then(() => {
      this.#ended = true;
    });
    let link: string | null = null;
    if (socketFd !== null && process.platform === 'linux') {
      try {
        link = socketLink(fs.fstatSync(socketFd, { bigint: true }).ino);
      } catch {
        link = null;
      }
    }
    this.#link = link;
  }

  /** The family's processes other than the command itself (found now; none where they cannot be found). */
  others(): number[] {
    if (this.#link === null) return [];
    return processesHolding(this.#link).filter((pid) => pid !== this.#pid);
  }

  /**
   * SIGTERM to every member, then SIGKILL to those left after `graceMs`, looking for new ones
   * (a member that forks) until none is left or `killWaitMs` after the SIGKILL. Resolves with the
   * members still there at the end (none, unless a member cannot be killed or seen to go).
   */
  async stop(graceMs: number, killWaitMs: number): Promise<number[]> {
    let signal: NodeJS.Signals = 'SIGTERM';
    let until = performance.now() + graceMs;
    let signalled = new Set<number>();
    let commandSignalled = false;
    for (;;) {
      const others = this.others();
      if (!this.#ended && !commandSignalled) {
        this.#command.kill(signal);
        commandSignalled = true;
      }
      for (const pid of others) {
        if (signalled.has(pid)) continue;
        signalled.add(pid);
        try {
          process.kill(pid, signal);
        } catch {
          // gone since it was found
        }
      }
      if (this.#ended && others.length === 0) return [];
      if (performance.now() >= until) {
        if (signal === 'SIGKILL') return this.#ended ? others : [this.#pid, ...others];
        signal = 'SIGKILL';
        until = performance.now() + killWaitMs;
        signalled = new Set();
        commandSignalled = false;
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
