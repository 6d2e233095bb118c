// The PID file's text: pure parsing and formatting, no I/O.

/** The largest PID accepted: pid_t is a signed 32-bit integer on every POSIX system. */
export const MAX_PID = 0x7fffffff;

/** A PID file longer than this holds no PID ("2147483647\r\n" is 12 bytes); it is not read further. */
export const MAX_PID_TEXT_BYTES = 16;

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LF = 0x0a;
const CR = 0x0d;

/**
 * The PID in a PID file's bytes, or null when they hold anything else.
 *
 * Strict, as FreeBSD's pidfile_read is: decimal digits without sign, leading zero or space,
 * optionally ended by one "\n" or "\r\n", from 1 to MAX_PID. Whatever else is there (an empty
 * file, a half-written one, binary or huge contents, a "0" that `kill` would send to the whole
 * process group) is not a PID.
 */
export function parsePid(bytes: Uint8Array): number | null {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === LF) {
    end -= 1;
    if (end > 0 && bytes[end - 1] === CR) end -= 1;
  }
  if (end === 0 || end > 10 || bytes[0] === DIGIT_0) return null;
  let pid = 0;
  for (let i = 0; i < end; i += 1) {
    const byte = bytes[i] as number;
    if (byte < DIGIT_0 || byte > DIGIT_9) return null;
    pid = pid * 10 + (byte - DIGIT_0);
  }
  return pid <= MAX_PID ? pid : null;
}

/** The text pidguard writes: the PID and a newline, as `kill $(cat f)`, `pgrep -F` and systemd read it. */
export function formatPid(pid: number): string {
  if (!isPid(pid)) throw new RangeError(`not a PID: ${String(pid)}`);
  return `${pid}\n`;
}

export function isPid(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_PID;
}
