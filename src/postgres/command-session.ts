// The session that says a `pidguard run` command is running under a fleet lock: it holds the
// name's command key (names.ts) from before the command starts until the last of the command's
// processes is gone. The command inherits the session's socket, as flock(1)'s command inherits
// the locked descriptor, and `run` closes only its own copy when it is done: the server frees the
// key when every process holding the socket has closed it, however `run` itself ended (a SIGKILL
// included). Whoever takes the lock next waits for the key before it starts its own command, and
// `pidguard stop` waits for it before it says that the holder has stopped.
//
// The lock's own session cannot carry this: `pidguard stop` ends that one, and the server frees
// its locks at once, while the command may still be finishing.
import os from 'node:os';
import { abortReason } from '../errors';
import { sendCancel } from './connection';
import type { PgClient } from './driver';
import { serverError, sqlStateOf } from './errors';
import { commandApplicationName, commandHolderOf, type CommandHolder } from './holder';
import { commandKey, lockKey, targetOf } from './names';
import { openSession } from './open';
import { environmentUrl, settleConnect, type FleetConnectOptions, type SettledConnect } from './options';
import {
  MAX_LOCK_TIMEOUT_MS,
  NAME_SESSION_SQL,
  RUNNING_SQL,
  TRY_COMMAND_SQL,
  UNLOCK_IF_HELD_SQL,
  WAIT_COMMAND_SQL,
  type RunningRow,
} from './sql';

/** The sessions that hold the command key of `name` (its lock's key first in the statement). */
export function commandHolders(rows: readonly RunningRow[]): CommandHolder[] {
  return rows.filter((row) => row.kind === 'command').map((row) => commandHolderOf(row.backend, row.application_name));
}

export class CommandSession {
  /** The server process of this session. */
  readonly backend: number;
  /** host:port/database. */
  readonly server: string;
  readonly #client: PgClient;
  readonly #settled: SettledConnect;
  readonly #name: string;
  readonly #target: string;
  readonly #holderBackend: number;
  #gone = false;

  /**
   * Opens the command session for the lock `name`, held by the session of server process
   * `holderBackend` (which its application_name records, for `pidguard stop`). The options are
   * the lock's own (connection, schema, health check: its keepalives are the lock's).
   */
  static async open(name: string, holderBackend: number, options?: FleetConnectOptions): Promise<CommandSession> {
    const settled = settleConnect(options, environmentUrl(), 'CommandSession.open');
    const target = targetOf(name);
    const { client, server, setup } = await openSession(
      settled,
      target,
      commandApplicationName(holderBackend, process.pid, os.hostname()),
    );
    return new CommandSession(client, settled, server, setup.backend, name, holderBackend);
  }

  private constructor(
    client: PgClient,
    settled: SettledConnect,
    server: string,
    backend: number,
    name: string,
    holderBackend: number,
  ) {
    this.#client = client;
    this.#settled = settled;
    this.server = server;
    this.backend = backend;
    this.#name = name;
    this.#target = targetOf(name);
    this.#holderBackend = holderBackend;
    // Once the command runs, what becomes of this process's end of the connection changes
    // nothing: the command's copy keeps the session.
    client.on('error', () => {
      this.#gone = true;
    });
    client.on('end', () => {
      this.#gone = true;
    });
  }

  /**
   * Takes the command key, waiting at most `waitMs` (Infinity: as long as it takes) in the server's
   * queue for the command of an earlier holder to end. Resolves true once taken; otherwise with the
   * sessions still holding it. An abort rejects at once with the signal's reason, and drops the
   * session (with a cancel request, so that the server does not grant it the key meanwhile).
   */
  async take(waitMs: number, signal?: AbortSignal): Promise<true | CommandHolder[]> {
    if (signal?.aborted === true) throw abortReason(signal);
    const key = commandKey(this.#name).toString();
    let onAbort = (): void => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        sendCancel(this.#client, this.#settled.config);
        this.leave();
        reject(abortReason(signal as AbortSignal));
      };
    });
    aborted.catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    const within = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, aborted]);
    const isAborted = (): boolean => signal?.aborted === true; // read afresh: an await may have passed
    try {
      const { rows } = await within(this.#client.query<{ taken: boolean }>(TRY_COMMAND_SQL, [key]));
      if (rows[0]?.taken === true) return true;
      const deadline = performance.now() + waitMs;
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return await within(this.#holders());
        const timeout = waitMs === Infinity ? '0' : String(Math.min(MAX_LOCK_TIMEOUT_MS, Math.max(1, Math.ceil(left))));
        try {
          await within(this.#client.query(WAIT_COMMAND_SQL, [key, timeout]));
          return true;
        } catch (error) {
          if (isAborted() || sqlStateOf(error) !== '55P03') throw error;
          // A lock_timeout that came as the key was granted leaves it granted: give it back.
          await within(this.#client.query(UNLOCK_IF_HELD_SQL, [key]));
        }
      }
    } catch (error) {
      if (isAborted()) throw abortReason(signal as AbortSignal);
      throw serverError(error, this.#target, this.server, "while waiting for the earlier holder's command to end");
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async #holders(): Promise<CommandHolder[]> {
    const { rows } = await this.#client.query<RunningRow>(RUNNING_SQL, [
      lockKey(this.#name).toString(),
      commandKey(this.#name).toString(),
    ]);
    return commandHolders(rows).filter((holder) => holder.backend !== this.backend);
  }

  /** Records `pid` as the command's in the session's application_name (what a refusal names). */
  async record(pid: number): Promise<void> {
    await this.#client.query(NAME_SESSION_SQL, [commandApplicationName(this.#holderBackend, pid, os.hostname())]);
  }

  /**
   * This process's descriptor of the session's socket, for the command to inherit (POSIX); null
   * where there is none to hand on (the connection has failed, or the platform keeps handles).
   */
  get fd(): number | null {
    if (this.#gone) return null;
    const stream = this.#client.connection.stream as unknown as { _handle?: { fd?: unknown } | null };
    const fd = stream._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }

  /**
   * Closes this process's descriptor of the socket, without ending the session: the server frees
   * the key once no process holds the socket any more (at once, when no command inherited it).
   * Idempotent.
   */
  leave(): void {
    this.#gone = true;
    this.#client.connection.stream.destroy();
  }
}
