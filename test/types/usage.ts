// The README's TypeScript examples, compiled against the published declarations (dist/*.d.ts)
// and run by module.test.mjs. Prints one JSON line of what it saw.
import { acquire, acquireSync, inspect, LockedError, readPid, type LockStatus, type PidLock } from 'pidguard';
import path from 'node:path';

async function main(dir: string): Promise<void> {
  const file = path.join(dir, 'typed.pid');
  const seen: Record<string, unknown> = {};
  {
    await using lock = await acquire(file);
    seen['pidInFile'] = readPid(file);
    seen['lockPid'] = lock.pid;
    try {
      acquireSync(file);
    } catch (error) {
      if (error instanceof LockedError) seen['refusedPid'] = error.pid;
    }
    const status: LockStatus = await inspect(file);
    seen['locked'] = status.locked;
  }
  seen['afterAwaitUsing'] = readPid(file);
  {
    using lock: PidLock = acquireSync(file);
    seen['mode'] = lock.mode;
  }
  seen['afterUsing'] = readPid(file);
  console.log(JSON.stringify(seen));
}

main(process.argv[2] ?? '.').catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
