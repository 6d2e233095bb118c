// Looking at a PID file without taking it: readPid, inspect and inspectSync.
import { readFlockHolders, readFlockHoldersSync } from './kernel-locks';
import { binding, ProbeState } from './native';
import { checkPath, settleMode, type InspectOptions } from './options';
import { readPidFile, readPidFileSync, type PidFileContents } from './read-pid';
import { withPath } from './errors';
import { describeStatus, type LockStatus } from './status';

/** The PID recorded in the file at `path`; null when there is no file or it holds no valid PID. */
export function readPid(path: string): number | null {
  const contents = readPidFileSync(checkPath(path));
  return contents.kind === 'pid' ? contents.pid : null;
}

/** Where /proc/locks cannot tell, a brief shared lock attempt does (see LockStatus.checkedBy). */
function probe(path: string): boolean {
  try {
    return binding().probe(path) === ProbeState.Locked;
  } catch (error) {
    throw withPath(error, path);
  }
}

function hasIdentity(contents: PidFileContents): contents is PidFileContents & { dev: bigint; ino: bigint } {
  return contents.kind !== 'missing' && contents.dev !== null && contents.ino !== null;
}

/** Whether the PID file at `path` is locked, and by which PID; takes no lock on Linux. */
export function inspectSync(path: string, options?: InspectOptions): LockStatus {
  const file = checkPath(path);
  settleMode(options?.mode, process.env['PIDGUARD_MODE']);
  const contents = readPidFileSync(file);
  const holders = hasIdentity(contents) ? readFlockHoldersSync(contents.dev, contents.ino) : null;
  const probedLocked = hasIdentity(contents) && holders === null ? probe(file) : null;
  return describeStatus({ path: file, contents, holders, probedLocked });
}

/** inspectSync(), reading with non-blocking I/O: for health-check endpoints. */
export async function inspect(path: string, options?: InspectOptions): Promise<LockStatus> {
  const file = checkPath(path);
  settleMode(options?.mode, process.env['PIDGUARD_MODE']);
  const contents = await readPidFile(file);
  const holders = hasIdentity(contents) ? await readFlockHolders(contents.dev, contents.ino) : null;
  const probedLocked = hasIdentity(contents) && holders === null ? probe(file) : null;
  return describeStatus({ path: file, contents, holders, probedLocked });
}
