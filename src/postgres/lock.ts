// The handle of a lock held on PostgreSQL: its fencing token, whether it is still held, and the
// 'lost' event that says when it stopped being held without being released.
import { EventEmitter } from 'node:events';

/** What the session that holds a lock tells its handle at the start. */
export interface FleetLockInit {
  name: string;
  target: string;
  token: bigint;
  since: Date;
  backend: number;
  host: string;
  lostWithinMs: number;
  freedAfterMs: number;
  release: () => Promise<void>;
  confirm: () => Promise<boolean>;
}

/**
 * A lock held across hosts. `held` turns false when it is released, and when the session that
 * holds it ends or stops answering: then 'lost' is emitted once, with an error whose code is
 * ELOST. What to do then is the holder's to decide, within `freedAfterMs - lostWithinMs` (the
 * grace) if the cause was a partition: stop writing, and exit or acquire again.
 */
export class FleetLock extends EventEmitter implements AsyncDisposable {
  /** The lock's name. */
  readonly name: string;
  /** `postgres:<name>`: how the command and the errors name it. */
  readonly target: string;
  /**
   * The fencing token: strictly greater than every token of an earlier holder of this name, also
   * across server restarts and a failover to a standby (a new timeline's tokens start above the
   * old one's). Give it with every write to the resource this lock guards, and have
   * the resource refuse a token lower than the highest it has seen (docs/across-hosts.md).
   */
  readonly token: bigint;
  /** When the server granted the lock (its clock). */
  readonly since: Date;
  /** The holder: this process, on this host. */
  readonly pid: number;
  readonly host: string;
  /** The server process of the session holding the lock (what `pidguard stop` terminates). */
  readonly backend: number;
  /** The latest moment, after the server last heard from this holder, at which 'lost' is emitted. */
  readonly lostWithinMs: number;
  /** The earliest moment, after it last heard from this holder, at which the server can free the lock on its own. */
  readonly freedAfterMs: number;
  #held = true;
  #releasing: Promise<void> | undefined;
  readonly #release: () => Promise<void>;
  readonly #confirm: () => Promise<boolean>;

  /** @internal Made by acquire() and FleetSession.acquire(); not for constructing directly. */
  constructor(init: FleetLockInit) {
    super();
    this.name = init.name;
    this.target = init.target;
    this.token = init.token;
    this.since = init.since;
    this.pid = process.pid;
    this.host = init.host;
    this.backend = init.backend;
    this.lostWithinMs = init.lostWithinMs;
    this.freedAfterMs = init.freedAfterMs;
    this.#release = init.release;
    this.#confirm = init.confirm;
  }

  /** Whether this process holds the lock: false once released or lost. Reading it costs nothing. */
  get held(): boolean {
    return this.#held;
  }

  /**
   * Gives the lock up and, for a lock from acquire(), closes its session; calling it again returns
   * the same promise. It does not reject: when the server cannot be told, the connection is
   * dropped, which frees the lock as soon as the server sees it (a warning goes to the logger).
   */
  release(): Promise<void> {
    this.#held = false;
    this.#releasing ??= this.#release();
    return this.#releasing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /**
   * @internal One health check now: resolves true once the server has answered that the session
   * holding the lock is still there (the moment it answered, the lock was held), false when the
   * lock is not held any more (it is then lost, or was released).
   */
  confirm(): Promise<boolean> {
    return this.#held ? this.#confirm() : Promise.resolve(false);
  }

  /** @internal The session ended or stopped answering: not held any more, and 'lost' once. */
  lose(error: Error): void {
    if (!this.#held) return;
    this.#held = false;
    process.nextTick(() => this.emit('lost', error));
  }
}
