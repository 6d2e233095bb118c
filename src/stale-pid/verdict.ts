// The stale-PID fallback's judgement of a PID file it found in its way. Pure.
import type { ProcessFacts } from '../process/info';
import type { PidFileContents } from '../file/read';

/** An empty file this young (by its mtime) may be a holder between its create and its write. */
export const EMPTY_GRACE_MS = 500;

/**
 * How much later than the file's last write a process may seem to have started and still count
 * as the writer: covers /proc's 10 ms ticks and the error of the clock-offset estimate. A PID
 * reused within this long of the holder's last write is not detected.
 */
export const START_TOLERANCE_MS = 1000;

export type Verdict =
  /** A live holder: respect it. */
  | { kind: 'held'; pid: number }
  /** An empty file written moments ago: its holder may still be writing its PID. */
  | { kind: 'settling' }
  /** Nobody holds it: it may be taken over. */
  | { kind: 'stale'; why: string };

export interface VerdictFacts {
  contents: Exclude<PidFileContents, { kind: 'missing' }>;
  /** The process the file names, for contents of kind 'pid'. */
  holder: ProcessFacts | null;
  /** The file system's clock less this process's clock, in ms (an NFS server's clock may differ). */
  clockOffsetMs: number;
  nowMs: number;
}

/**
 * A file names a live holder when its PID exists and that process started before the file was
 * last written. The start time is what catches a PID reused by another process, including PID 1
 * of a restarted container, which is always alive: a check of the process's name would not.
 */
export function judge({ contents, holder, clockOffsetMs, nowMs }: VerdictFacts): Verdict {
  if (contents.kind === 'other') return { kind: 'stale', why: 'it holds no PID' };
  // When the file was written, on this process's clock.
  const writtenMs = contents.mtimeMs - clockOffsetMs;
  if (contents.kind === 'empty') {
    return nowMs - writtenMs < EMPTY_GRACE_MS ? { kind: 'settling' } : { kind: 'stale', why: 'it is empty' };
  }
  const { pid } = contents;
  if (holder === null || !holder.exists) return { kind: 'stale', why: `PID ${pid} is not running` };
  if (holder.startedAtMs !== null && holder.startedAtMs > writtenMs + START_TOLERANCE_MS) {
    return { kind: 'stale', why: `PID ${pid} was reused: that process started after the file was written` };
  }
  return { kind: 'held', pid };
}
