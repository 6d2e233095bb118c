// `pidguard status`: is the service running, and as which PID? For scripts and health checks.
import type { LockStatus } from '../status';
import type { StatusCommand } from './args';
import { lookAt, type Look } from './look';
import { judge, statusCode, type State, type Verdict } from './verdict';

/**
 * The JSON printed: inspect()'s report (its `holderProof` says how the holder was identified),
 * with a lock found by a lock attempt where /proc/locks leaves it out marked as such; `state`
 * and `why` as the exit status and the line on stderr say them. Where nothing could be looked
 * at, only the path, the state and why.
 */
export type StatusJson = (LockStatus | { path: string }) & { state: State; why: string | null };

function json(look: Look, verdict: Verdict): StatusJson {
  const why = verdict.notes.at(-1) ?? null;
  if (look.status === null) return { path: look.path, state: verdict.state, why };
  const status = look.unlisted ? { ...look.status, locked: true, checkedBy: 'probe' as const } : look.status;
  return { ...status, state: verdict.state, why };
}

export async function status({ pidfile, json: asJson, lsb }: StatusCommand): Promise<number> {
  const look = await lookAt(pidfile);
  const verdict = judge(look);
  if (asJson) {
    process.stdout.write(`${JSON.stringify(json(look, verdict))}\n`);
  } else {
    if (verdict.pid !== null) process.stdout.write(`${verdict.pid}\n`);
    for (const note of verdict.notes) process.stderr.write(`pidguard: ${note}\n`);
  }
  return statusCode(verdict.state, lsb);
}
