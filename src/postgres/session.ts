// A dedicated PostgreSQL session that holds fleet locks: connecting and setting it up, taking and
// giving back the lock, and watching the session while it holds (the health check of bounds.ts).
import os from 'node:os';
import { abortReason, LockedError } from '../errors';
import type { Logger } from '../logger';
import { freedAfterMs } from './bounds';
import { CONNECT_TIMEOUT_MS, sendCancel } from './connection';
import type { PgClient } from './driver';
import { fleetError, serverError, sqlStateOf, type FleetError } from './errors';
import { holderOfAttempt } from './holder';
import { FleetLock } from './lock';
import { openSession } from './open';
import { addOwnSession, isOwnSession, removeOwnSession } from './own-sessions';
import { checkName, lockKey, targetOf } from './names';
import { settleAcquire, type FleetAcquireOptions, type SettledAcquire, type SettledConnect } from './options';
import {
  CHECK_SQL,
  createTableSql,
  MAX_LOCK_TIMEOUT_MS,
  reserveSql,
  tableOf,
  tryAcquireSql,
  UNLOCK_IF_HELD_SQL,
  UNLOCK_SQL,
  waitAcquireSql,
  type AcquiredRow,
  type AttemptRow,
} from './sql';

/** How many times a refused attempt looks for the holder and, finding none, tries again. */
const ATTEMPTS = 5;

/** Read afresh (TypeScript keeps what an earlier test found across an await). */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

interface Holding {
  lock: FleetLock;
  key: bigint;
  target: string;
  /** When the last health check that the server answered was sent (performance.now()). */
  heardAt: number;
  timer: NodeJS.Timeout | null;
}

/**
 * One connection to PostgreSQL of the session's own (never a pooled one), which holds at most one
 * lock at a time. acquire() makes one for its lock and closes it on release; connect() gives one
 * to keep across many locks (a warm connection: one round trip to take, one to give back).
 * The session does not keep the process alive: like a PID file's lock, it ends with the process,
 * and the server frees the lock then.
 */
export class FleetSession implements AsyncDisposable {
  /** The server process of this session (pg_backend_pid()). */
  readonly backend: number;
  /** host:port/database. */
  readonly server: string;
  readonly #client: PgClient;
  readonly #settled: SettledConnect;
  readonly #logger: Logger;
  #queue: Promise<unknown> = Promise.resolve();
  #inFlight = 0;
  #holding: Holding | null = null;
  #busy = false;
  #closing: Promise<void> | null = null;
  #broken: FleetError | null = null;

  /** Connects and sets the session up; rejects with a FleetError (ECONNREFUSED, EACCES, ENOTSUP, ...). */
  static async open(settled: SettledConnect, target: string): Promise<FleetSession> {
    const { client, server, setup } = await openSession(settled, target);
    const session = new FleetSession(client, settled, server, setup.backend);
    session.#settle();
    return session;
  }

  private constructor(client: PgClient, settled: SettledConnect, server: string, backend: number) {
    this.#client = client;
    this.#settled = settled;
    this.#logger = settled.logger;
    this.server = server;
    this.backend = backend;
    client.on('error', (error: Error) => this.#fail(error));
    client.on('end', () => this.#fail(new Error('the connection closed')));
    // Counted as this process's until its socket is closed (not merely until close() is called):
    // a refusal meanwhile may still name this session as the holder.
    const stream = client.connection.stream;
    if (!stream.destroyed) {
      addOwnSession(backend);
      stream.once('close', () => removeOwnSession(backend));
    }
  }

  /** Runs one statement at a time (node-postgres would queue them, with a deprecation warning). */
  #query<Row>(text: string, values?: unknown[]): Promise<{ rows: Row[] }> {
    const run = this.#queue
      .then(() => {
        this.#inFlight += 1;
        this.#stream()?.ref();
        return this.#client.query<Row>(text, values);
      })
      .finally(() => {
        this.#inFlight -= 1;
        this.#settle();
      });
    this.#queue = run.catch(() => {});
    return run;
  }

  #stream(): { ref(): unknown; unref(): unknown; destroy(): unknown } | undefined {
    return this.#client.connection?.stream;
  }

  /** With no statement in flight, the connection does not keep the process alive. */
  #settle(): void {
    if (this.#inFlight === 0) this.#stream()?.unref();
  }

  /** Takes the lock on `name`; see acquire() for what it rejects with. */
  async acquire(name: string, options?: FleetAcquireOptions): Promise<FleetLock> {
    return this.take(checkName(name), settleAcquire(options, 'FleetSession.acquire'), false);
  }

  /** @internal `owned`: the session is the lock's own, closed on release. */
  async take(name: string, { waitMs, signal }: SettledAcquire, owned: boolean): Promise<FleetLock> {
    const target = targetOf(name);
    if (this.#closing !== null || this.#broken !== null)
      throw fleetError(
        'ECONNRESET',
        'this session has ended: connect again',
        target,
        this.server,
        this.#broken ?? undefined,
      );
    if (this.#busy || this.#holding !== null) {
      throw fleetError(
        'EBUSY',
        'this session already holds or is taking a lock: a session holds one at a time (connect another)',
        target,
        this.server,
      );
    }
    if (signal?.aborted === true) throw abortReason(signal);
    this.#busy = true;
    try {
      const key = lockKey(name);
      for (let attempt = 1; ; attempt += 1) {
        const waited = attempt === 1 && waitMs > 0;
        let sentAt = performance.now();
        const outcome = await this.#take(name, key, target, waited ? waitMs : 0, signal);
        if (outcome.token !== null && isAborted(signal)) {
          // Granted as the abort came: the session is dropped, which gives it back.
          await this.close();
          throw abortReason(signal as AbortSignal);
        }
        if (outcome.token !== null) {
          // The server heard from this process when the statement arrived; after a wait, that is
          // as old as the wait, and says nothing of the server hearing from it since: one health
          // check, answered, gives the moment from which the bound counts.
          if (waited) sentAt = await this.#firstCheck(target);
          return this.#hold(name, key, target, outcome as AcquiredRow, sentAt, owned);
        }
        const holder = holderOfAttempt(outcome.holder);
        // "This process" only when the holder's session is one of this process's: another process
        // may have the same PID and host name (a container).
        if (holder !== null)
          throw new LockedError(target, holder.pid, { host: holder.host, thisProcess: isOwnSession(holder.backend) });
        // After a wait ran out, or freed between the attempt and the look: try again, a bounded
        // number of times (each attempt names a holder unless the lock was free at that moment).
        if (attempt >= ATTEMPTS) throw new LockedError(target, null, { host: null });
      }
    } finally {
      this.#busy = false;
    }
  }

  /**
   * One attempt: the new holder's row, or the holder seen (none when a wait ran out). It ends at
   * once, dropping the session, when `signal` aborts (with the signal's reason), and when the
   * server has not answered by the health check's timeout after a finite wait's end (ETIMEDOUT: a
   * partition, during which no answer and no error would ever come); an attempt without a wait
   * is given CONNECT_TIMEOUT_MS. Dropping the session sends a cancel request and closes the
   * socket: the server stops waiting, or notices the end, whatever it was doing.
   */
  async #take(
    name: string,
    key: bigint,
    target: string,
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<AttemptRow> {
    const values: unknown[] = [name, key.toString(), os.hostname(), process.pid];
    const table = tableOf(this.#settled.schema);
    let created = false;
    let reserved: string | null = null;
    const deadline = performance.now() + waitMs;
    // The reason the attempt was dropped: the signal's (any value), or ETIMEDOUT.
    let dropped: { reason: unknown } | null = null;
    let reject: (error: unknown) => void = () => {};
    const ended = new Promise<never>((_, fail) => {
      reject = fail;
    });
    ended.catch(() => {}); // raced below; nothing may be left unhandled
    const drop = (error: unknown): void => {
      if (dropped !== null) return;
      dropped = { reason: error };
      this.#cancel();
      this.#destroy();
      reject(error);
    };
    const onAbort = (): void => drop(abortReason(signal as AbortSignal));
    signal?.addEventListener('abort', onAbort, { once: true });
    const { timeoutMs } = this.#settled.healthCheck;
    const limitMs = waitMs === 0 ? CONNECT_TIMEOUT_MS : waitMs + timeoutMs;
    const watchdog =
      limitMs === Infinity
        ? undefined
        : setTimeout(() => {
            drop(
              fleetError(
                'ETIMEDOUT',
                waitMs === 0
                  ? `no answer from the server within ${limitMs} ms: the connection was dropped`
                  : `no answer from the server ${timeoutMs} ms after the wait's end (${waitMs} ms): the connection was dropped`,
                target,
                this.server,
              ),
            );
          }, limitMs);
    const run = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, ended]);
    try {
      for (;;) {
        try {
          if (waitMs === 0)
            return (await run(this.#query<AttemptRow>(tryAcquireSql(table), values))).rows[0] as AttemptRow;
          const left = deadline - performance.now();
          if (left <= 0) return { token: null, backend: null, since: null, holder: null };
          // The number is made durable now, before the wait, so that waking with the lock costs no flush.
          reserved ??=
            (await run(this.#query<{ reserved: string }>(reserveSql(table), values))).rows[0]?.reserved ?? null;
          const timeout =
            waitMs === Infinity ? '0' : String(Math.min(MAX_LOCK_TIMEOUT_MS, Math.max(1, Math.ceil(left))));
          const { rows } = await run(this.#query<AcquiredRow>(waitAcquireSql(table), [...values, reserved, timeout]));
          return { ...(rows[0] as AcquiredRow), holder: null };
        } catch (error) {
          if (dropped !== null) throw (dropped as { reason: unknown }).reason;
          const state = sqlStateOf(error);
          if (state === '42P01' && !created) {
            // Found missing when the statement was planned: nothing was locked.
            created = true;
            await run(this.#createTable(target));
            continue;
          }
          // The statement failed, but the server may have granted the lock first: a lock_timeout
          // or a cancel that comes as the lock is granted leaves it granted, and the statement
          // reports the timeout. Give it back, or a later attempt would take it again on top.
          const clean = await run(this.#unlockAfterFailure(key, target));
          if (state === '55P03' && clean) continue; // lock_timeout: the loop ends the wait at the deadline
          throw serverError(error, target, this.server, 'while taking the lock');
        }
      }
    } finally {
      clearTimeout(watchdog);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Gives back a lock that a failed statement may have left granted. When the server cannot be
   * told, drops the session (which frees it) and resolves false.
   */
  async #unlockAfterFailure(key: bigint, target: string): Promise<boolean> {
    try {
      await this.#within(this.#query(UNLOCK_IF_HELD_SQL, [key.toString()]));
      return true;
    } catch (error) {
      this.#logger.warn(
        `${target}: could not make sure the failed attempt left no lock, dropping the session: ${(error as Error).message}`,
      );
      await this.close();
      return false;
    }
  }

  /** A health check just after a wait was granted: resolves with when it was sent. */
  async #firstCheck(target: string): Promise<number> {
    const sentAt = performance.now();
    try {
      const { rows } = await this.#within(this.#query<{ backend: number }>(CHECK_SQL));
      if (rows[0]?.backend === this.backend) return sentAt;
      throw fleetError(
        'ENOTSUP',
        `server process ${String(rows[0]?.backend)} answered for this session's ${this.backend}: a pooler switched backends`,
        target,
        this.server,
      );
    } catch (error) {
      await this.close(); // frees the lock just granted
      throw this.#ended(target) ?? serverError(error, target, this.server, 'just after the lock was granted');
    }
  }

  /**
   * ECONNRESET when the session has ended or broken, else null. The answer that grants a lock and
   * the session's end can come in one read: node-postgres then reports the end (the 'error' and
   * 'end' events, while nothing is held yet) before the grant's promise is settled, so a grant is
   * held only once this says the session is still there.
   */
  #ended(target: string): FleetError | null {
    if (this.#broken === null && this.#closing === null) return null;
    const cause = this.#broken?.cause;
    const why = cause instanceof Error ? cause.message : 'the session was closed';
    return fleetError(
      'ECONNRESET',
      `the session ended as the lock was granted: ${why}`,
      target,
      this.server,
      this.#broken ?? undefined,
    );
  }

  /** Creates the token table; without the right to, an EACCES error that says what to ask for. */
  async #createTable(target: string): Promise<void> {
    try {
      await this.#query(createTableSql(this.#settled.schema));
      this.#logger.info(`created ${tableOf(this.#settled.schema)} for the fencing tokens`);
    } catch (error) {
      const table = tableOf(this.#settled.schema);
      if (sqlStateOf(error) !== '42501')
        throw serverError(error, target, this.server, `while creating ${table}, which holds the fencing tokens`);
      throw fleetError(
        'EACCES',
        `this role may not create ${table}, which holds the fencing tokens (${(error as Error).message}): ` +
          `have an administrator create it once (docs/across-hosts.md), or grant CREATE on schema ${this.#settled.schema}`,
        target,
        this.server,
        error,
        '42501',
      );
    }
  }

  /** Asks the server to cancel the statement running now. */
  #cancel(): void {
    sendCancel(this.#client, this.#settled.config);
  }

  #hold(name: string, key: bigint, target: string, row: AcquiredRow, sentAt: number, owned: boolean): FleetLock {
    const ended = this.#ended(target);
    if (ended !== null) {
      void this.close();
      throw ended;
    }
    if (row.backend !== this.backend) {
      // A statement ran on another server process: a pooler switched backends under us.
      void this.close();
      throw fleetError(
        'ENOTSUP',
        `the lock was taken by server process ${row.backend}, not this session's ${this.backend}: ` +
          'the connection goes through a transaction-pooling pooler, which breaks session locks',
        target,
        this.server,
      );
    }
    const lock: FleetLock = new FleetLock({
      name,
      target,
      token: BigInt(row.token),
      since: row.since,
      backend: this.backend,
      host: os.hostname(),
      lostWithinMs: this.#settled.lostWithinMs,
      freedAfterMs: freedAfterMs(this.#settled.keepalives),
      release: () => this.#release(lock, owned),
      confirm: () => this.#confirm(lock),
    });
    this.#holding = { lock, key, target, heardAt: sentAt, timer: null };
    this.#logger.debug(`holding ${target} with token ${row.token}`);
    this.#schedule(this.#holding, this.#settled.healthCheck.intervalMs);
    return lock;
  }

  #schedule(holding: Holding, delayMs: number): void {
    holding.timer = setTimeout(() => void this.#check(holding), delayMs);
    holding.timer.unref();
  }

  /**
   * One health check. Lost when the server does not answer within the timeout, when another
   * backend answers, or when this process's timers ran so late that the server may already have
   * freed the lock (a blocked event loop, a paused process).
   */
  async #check(holding: Holding): Promise<void> {
    if (this.#holding !== holding) return;
    const { intervalMs, timeoutMs } = this.#settled.healthCheck;
    const sentAt = performance.now();
    const silentMs = sentAt - holding.heardAt;
    if (silentMs > this.#settled.lostWithinMs) {
      this.#lose(
        holding,
        new Error(
          `this process last heard from the server ${Math.round(silentMs)} ms ago (its timers ran late): the server may have freed the lock`,
        ),
      );
      return;
    }
    const deadline = setTimeout(
      () => this.#lose(holding, new Error(`a health check went unanswered for ${timeoutMs} ms`)),
      timeoutMs,
    );
    deadline.unref();
    try {
      const { rows } = await this.#query<{ backend: number }>(CHECK_SQL);
      if (rows[0]?.backend !== this.backend) {
        this.#lose(
          holding,
          new Error(
            `server process ${String(rows[0]?.backend)} answered for this session's ${this.backend}: a pooler switched backends`,
          ),
        );
        return;
      }
      holding.heardAt = sentAt;
    } catch (error) {
      this.#lose(holding, error as Error);
      return;
    } finally {
      clearTimeout(deadline);
    }
    if (this.#holding === holding) this.#schedule(holding, Math.max(0, sentAt + intervalMs - performance.now()));
  }

  /** A health check out of turn, for FleetLock.confirm(); the lock is lost when it fails. */
  async #confirm(lock: FleetLock): Promise<boolean> {
    const holding = this.#holding;
    if (holding === null || holding.lock !== lock) return false;
    try {
      const { rows } = await this.#within(this.#query<{ backend: number }>(CHECK_SQL));
      if (rows[0]?.backend !== this.backend)
        throw new Error(`server process ${String(rows[0]?.backend)} answered for this session's ${this.backend}`);
    } catch (error) {
      this.#lose(holding, error as Error);
      return false;
    }
    return this.#holding === holding;
  }

  /** The connection broke or the server ended the session. */
  #fail(cause: Error): void {
    if (this.#closing !== null) return;
    this.#broken ??= serverError(cause, this.#holding?.target ?? 'postgres:', this.server, 'on the session');
    if (this.#holding !== null) this.#lose(this.#holding, cause);
    this.#destroy();
  }

  /** The lock is lost: not held from now on, 'lost' is emitted, and the session is dropped. */
  #lose(holding: Holding, cause: Error): void {
    if (this.#holding !== holding) return;
    this.#holding = null;
    if (holding.timer !== null) clearTimeout(holding.timer);
    const reason = cause.message;
    const lost = fleetError(
      'ELOST',
      `this process no longer holds the lock: ${reason}`,
      holding.target,
      this.server,
      cause,
    );
    this.#logger.warn(lost.message);
    holding.lock.lose(lost);
    this.#destroy();
  }

  #destroy(): void {
    this.#closing ??= Promise.resolve();
    this.#stream()?.destroy();
  }

  async #release(lock: FleetLock, owned: boolean): Promise<void> {
    const holding = this.#holding;
    if (holding !== null && holding.lock === lock) {
      this.#holding = null;
      if (holding.timer !== null) clearTimeout(holding.timer);
      try {
        const { rows } = await this.#within(this.#query<{ released: boolean }>(UNLOCK_SQL, [holding.key.toString()]));
        if (rows[0]?.released !== true)
          this.#logger.warn(`${holding.target}: the server says this session did not hold the lock it released`);
        this.#logger.debug(`released ${holding.target}`);
      } catch (error) {
        // Dropping the connection frees the lock as soon as the server sees it.
        this.#logger.warn(
          `${holding.target}: could not release it cleanly, dropping the connection: ${(error as Error).message}`,
        );
        this.#destroy();
      }
    }
    if (owned) await this.close();
  }

  /** A statement's result, or a rejection once the health check's timeout has passed. */
  #within<T>(promise: Promise<T>): Promise<T> {
    const { timeoutMs } = this.#settled.healthCheck;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Ends the session; a lock it holds is freed with it (without 'lost'). Idempotent; never rejects.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    const holding = this.#holding;
    this.#holding = null;
    this.#closing = this.#within(this.#client.end()).catch(() => {
      this.#stream()?.destroy();
    });
    if (holding !== null) {
      if (holding.timer !== null) clearTimeout(holding.timer);
      void holding.lock.release(); // marks it not held; the session is already going
    }
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
