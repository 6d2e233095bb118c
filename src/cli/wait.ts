// `pidguard wait`: wait until the lock is free.
import type { WaitCommand } from './args';
import { waitUntilFree } from './free';
import { lookAt } from './look';
import { EXIT } from './messages';
import { judge } from './verdict';

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function say(line: string): void {
  process.stderr.write(`pidguard: ${line}\n`);
}

async function waitFree(pidfile: string, timeoutMs: number): Promise<number> {
  const look = await lookAt(pidfile);
  const verdict = judge(look);
  if (verdict.state === 'unknown') {
    for (const note of verdict.notes) say(note);
    return EXIT.unknown;
  }
  try {
    if (await waitUntilFree(look.path, timeoutMs)) return 0;
  } catch (error) {
    say(`cannot tell whether ${look.path} is locked: ${(error as Error).message}`);
    return EXIT.unknown;
  }
  say(`${pidfile} is still locked after ${seconds(timeoutMs)}`);
  return EXIT.no;
}

export async function wait({ pidfile, timeoutMs }: WaitCommand): Promise<number> {
  return waitFree(pidfile, timeoutMs);
}
