// What the pidguard command prints, and the exit statuses it uses. Pure.
import { stopCommand } from '../errors';
import { FORWARDED_SIGNALS } from './signals';

/** Exit statuses of pidguard itself (a command run by `pidguard run` exits with its own). */
export const EXIT = {
  /** run: the lock is held (the default of -E); status: not running; stop: nothing holds it; wait: timed out. */
  no: 1,
  /** stop: the lock is still held when the schedule has run out (start-stop-daemon's 2). */
  stillHeld: 2,
  /** status --lsb: not running, and no PID file (LSB's 3). */
  lsbNotRunning: 3,
  /**
   * status, stop and wait: whether the lock is held, or by whom, cannot be told (LSB's "unknown"):
   * permission denied, a directory or other non-file at the path, a holder nobody can name.
   */
  unknown: 4,
  /** A mistake in the command line (sysexits' EX_USAGE). */
  usage: 64,
  /** run: the PID file was removed or replaced, another holder took the path, and the command was stopped (EX_UNAVAILABLE). */
  lost: 69,
  /** run: the PID file could not be opened, locked or read: the line printed says why (EX_OSERR). */
  failure: 71,
  /** run: the command was found but could not be executed (the shells' convention). */
  cannotExecute: 126,
  /** run: the command was not found. */
  notFound: 127,
} as const;

/** The lines a refused `run` prints: which file, who holds it, and how to stop that. */
export function conflictMessage(
  path: string,
  pid: number | null,
  commandLine: string | null,
  platform: NodeJS.Platform = process.platform,
): string {
  if (pid === null) return `pidguard: ${path} is locked by a process that has not recorded its PID in it\n`;
  const what = commandLine === null ? '' : `: ${commandLine}`;
  return (
    `pidguard: ${path} is locked: already running as PID ${pid}${what}\n` +
    `pidguard: to stop it: ${stopCommand(pid, platform)}  (or: pidguard stop ${path})\n`
  );
}

/** run: the line for a PID file removed or replaced behind it and taken again. */
export function retakenMessage(path: string, pid: number | null): string {
  const names = pid === null ? '' : `, naming PID ${pid} again`;
  return `pidguard: warning: ${path} was removed or replaced; took it again${names}\n`;
}

/** run: the line for a PID file removed or replaced behind it and lost: the command is being stopped. */
export function lostMessage(path: string, why: string, pid: number, killAfterMs: number): string {
  return `pidguard: ${path} was removed or replaced, and ${why}: stopping the command (PID ${pid}) with SIGTERM, then SIGKILL after ${killAfterMs / 1000} s\n`;
}

/** run: the line for a PID file removed behind it that cannot be taken again yet (its directory gone, say). */
export function unheldMessage(path: string, why: string): string {
  return `pidguard: warning: ${path} was removed or replaced, and cannot be taken again for now (${why}); trying again whenever it changes\n`;
}

/**
 * run: the status for a command that ended with exit code `code` (signal 0) or was killed by
 * signal number `signal` (code -1): the code, or 128+N for every signal N, the real-time ones
 * included, as the shells report it; null for anything else, which is never taken for success.
 */
export function commandExitStatus(code: number, signal: number): number | null {
  if (signal > 0) return 128 + signal;
  return code >= 0 ? code : null;
}

/** Errors of the system rather than of the command: pidguard's failure to start it (EX_OSERR). */
const SYSTEM_SHORTAGES = new Set(['EAGAIN', 'ENOMEM', 'EMFILE', 'ENFILE']);

/**
 * run: the line for a command that could not be started, and the status: 127 when it is not
 * found; 126 when it cannot be executed (EACCES, ENOEXEC, ELOOP, ENAMETOOLONG, a directory, or
 * ENOENT for a file that exists, whose #! interpreter is missing), as the shells do; 71 when the
 * system lacked the means (EAGAIN, ENOMEM, EMFILE, ENFILE).
 */
export function cannotRunMessage(
  name: string,
  code: string,
  description: string,
  exists: boolean,
): { status: number; message: string } {
  if (code === 'ENOENT' && !exists)
    return { status: EXIT.notFound, message: `pidguard: cannot run '${name}': command not found\n` };
  const why = code === 'ENOENT' ? 'its #! interpreter or its loader was not found' : description;
  return {
    status: SYSTEM_SHORTAGES.has(code) ? EXIT.failure : EXIT.cannotExecute,
    message: `pidguard: cannot run '${name}': ${code}: ${why}\n`,
  };
}

/**
 * run: --pid self refused where the lock is the stale-PID fallback's (exit 64): asked for with
 * PIDGUARD_MODE, or fallen back to where the file system refuses locks.
 */
export function pidSelfRefusal(path: string, fellBack: boolean): string {
  const why = fellBack
    ? `${path} is on a file system that refuses locks, so mode 'pidfile' holds it`
    : `mode 'pidfile' (PIDGUARD_MODE) holds ${path}`;
  return `pidguard: --pid self cannot be used: ${why}, where the file must name the command, the live holder that keeps a second copy out if pidguard is killed\n`;
}

export function usageMessage(problem: string): string {
  return `pidguard: ${problem}\nTry 'pidguard --help'.\n`;
}

/** `words` filled into lines of at most `width` characters, each starting with `indent`. */
function fill(words: readonly string[], indent: string, width = 96): string {
  const lines: string[] = [];
  let line = indent;
  for (const word of words) {
    if (line.length > indent.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent;
    }
    line += line.length > indent.length ? ` ${word}` : word;
  }
  return [...lines, line].join('\n');
}

const RUN_SIGNALS = fill(
  FORWARDED_SIGNALS.map((signal) => signal.slice(3)),
  '           ',
);

export const HELP = `Usage:
  pidguard run [options] <pidfile> [--] <command> [args...]
  pidguard run [options] <pidfile> -c <string>
  pidguard status [--json] [--lsb] <pidfile>
  pidguard stop [-s <signal>] [-t <seconds> | -R <schedule>] [-o] <pidfile>
  pidguard wait [--held] [-t <seconds>] <pidfile>

One copy of a service per PID file. The lock is a kernel lock (flock(2)) on the PID file, so
exactly one of any number of copies started at once runs, and the lock ends when its holder dies.

run      Take the lock, run the command, record its PID in the file, pass these signals on to
         it (those this system has):
${RUN_SIGNALS}
         and exit with its status (128+N when it died of signal N). When the lock is held,
         print who holds it and exit 1. As PID 1, also reap every orphan. The options end at
         the PID file, as flock(1)'s: everything after it belongs to the command. When the PID
         file is removed or replaced, take the path again; if another holder has it first,
         stop the command (TERM, then KILL) and exit 69.
  -c, --command <string>          (after the PID file) run the string with /bin/sh -c
                                  (Windows: cmd.exe /d /s /c)
  -w, --wait, --timeout <seconds|forever>
                                  wait that long for the lock (default: do not wait)
  -n, --nonblock, --nb            do not wait (the default; wins over -w, as in flock(1))
  -s, --shared                    take a shared lock, and record no PID
  -x, -e, --exclusive             take an exclusive lock (the default)
  -E, --conflict-exit-code <n>    exit status when the lock is held (default: 1)
  -o, --close, --no-inherit       do not pass the locked descriptor to the command; by default
                                  the command inherits it (as fd 3, PIDGUARD_LOCK_FD=3), so the
                                  lock lasts as long as the command keeps fd 3 open, even if
                                  pidguard is killed (closing it, as with exec 3>&-, gives the
                                  command's share up)
      --pid self                  record pidguard's own PID instead of the command's
                                  (refused in mode 'pidfile', and with -s)
      --kill-after <seconds>      when the PID file was lost to another holder: the time
                                  between TERM and KILL (default: 5)
status   Print the holder's PID and exit 0 when the lock is held; exit 1 when it is not (no
         file, no directory, or a file nobody holds); exit 4 when that cannot be told
         (permission denied; a directory, symlink, socket or device at the path).
      --json                      print the whole status as JSON
      --lsb                       LSB statuses, as start-stop-daemon --status: 0 running,
                                  1 not running but the PID file exists, 3 not running, 4 unknown
stop     Signal the holder and wait until the lock is free; exit 0 then, 1 when nothing
         holds it, 2 when it is still held at the end, 4 when whom to signal cannot be told.
  -s, --signal <name|number>      the signal to send (default: TERM)
  -t, --timeout <seconds|forever> how long to wait for the lock to be freed (default: 10)
  -R, --retry <schedule|seconds>  as start-stop-daemon: TERM/30/KILL/5 sends TERM, waits up
                                  to 30 s, sends KILL, waits up to 5 s; N alone is
                                  <signal>/N/KILL/N; 'forever' repeats the rest
  -o, --oknodo                    exit 0, not 1, when nothing holds the lock
wait     Wait until the lock is free; exit 1 if the timeout ends first, 4 if it cannot be told.
      --held                      wait instead until the lock is held and the file names a
                                  live PID, and print that PID
  -t, --timeout <seconds|forever> how long to wait (default: forever)

  -h, --help                      show this help
  -V, --version                   show the version

Exit statuses of pidguard itself: as above; 64 for a mistake in the command line; run: 69 as
above, 71 when the PID file cannot be used or the command cannot be started for want of
resources (the message says why), 126 when the command cannot be executed, 127 when it is not
found.
`;
