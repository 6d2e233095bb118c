// The README's pidguard/postgres example and the rest of its surface, compiled against the
// published declarations (dist/postgres/*.d.ts) by postgres-logic.test.mjs; not run (it needs a server).
import { acquire, connect, inspect, FleetLock, LockedError, type FleetError, type FleetOptions, type FleetStatus } from 'pidguard/postgres';

declare function runReport(options: { fence: bigint }): Promise<void>;

export async function example(): Promise<void> {
  try {
    const lock = await acquire('nightly-report', { connection: process.env['DATABASE_URL'] });
    lock.on("lost", (error: FleetError) => {
      console.error(error.code, error.message, error.path, error.server);
      process.exit(1);
    });
    await runReport({ fence: lock.token });
    await lock.release();
  } catch (error) {
    if (!(error instanceof LockedError)) throw error;
    const where: string | null = error.host;
    console.error(error.message, error.pid, where);
  }
}

export async function surface(): Promise<void> {
  const options: FleetOptions = {
    connection: { host: 'db', port: 5432, user: 'jobs', database: 'app' },
    wait: 5000,
    signal: AbortSignal.timeout(10_000),
    schema: 'ops',
    healthCheckIntervalMs: 500,
    healthCheckTimeoutMs: 500,
    graceMs: 2000,
    logger: console,
  };
  await using session = await connect({ connection: 'postgres://jobs@db/app' });
  const lock: FleetLock = await session.acquire('migrations', { wait: true });
  const held: boolean = lock.held;
  const bounds: number = lock.freedAfterMs - lock.lostWithinMs;
  const status: FleetStatus = await inspect('migrations', { connection: options.connection });
  const token: bigint | null = status.token;
  const since: Date | null = status.since;
  console.log(held, bounds, token, since, lock.backend, session.backend, session.server);
  await lock[Symbol.asyncDispose]();
  await session.close();
}
