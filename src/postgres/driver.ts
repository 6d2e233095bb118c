// node-postgres, loaded when a fleet lock first connects (never by `pidguard` itself), and the few
// parts of its API that pidguard uses, typed here so that pidguard's declarations need no @types/pg.
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/** A node-postgres client configuration: the fields pidguard reads, and any other it passes on. */
export interface PgClientConfig {
  connectionString?: string | undefined;
  host?: string | undefined;
  port?: number | string | undefined;
  user?: string | undefined;
  password?: string | (() => string | Promise<string>) | undefined;
  database?: string | undefined;
  application_name?: string | undefined;
  connectionTimeoutMillis?: number | undefined;
  keepAlive?: boolean | undefined;
  keepAliveInitialDelayMillis?: number | undefined;
  ssl?: unknown;
  [other: string]: unknown;
}

export interface PgResult<Row> {
  rows: Row[];
  rowCount: number | null;
}

/** The parts of pg.Client that pidguard uses. */
export interface PgClient extends EventEmitter {
  readonly host: string;
  readonly port: number;
  readonly database: string | undefined;
  readonly user: string | undefined;
  /** From the server's BackendKeyData: the backend PID (a pooler sends its own). */
  readonly processID: number | null;
  readonly secretKey: number | null;
  /** The settled parameters; `options` (startup options, from the config, the URL or PGOPTIONS) is read when connecting. */
  readonly connectionParameters: { options?: string | undefined };
  readonly connection: {
    stream: Socket;
    connect(port: number | string, host?: string): void;
    cancel(pid: number, key: number): void;
    on(event: 'connect' | 'error', listener: (...args: unknown[]) => void): void;
    end(): void;
  };
  connect(): Promise<void>;
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<PgResult<Row>>;
  end(): Promise<void>;
}

export interface PgModule {
  Client: new (config?: PgClientConfig) => PgClient;
}

let loaded: PgModule | undefined;

/** node-postgres, or an error saying how to install it (code ERR_PIDGUARD_NO_PG). */
export function pg(): PgModule {
  if (loaded !== undefined) return loaded;
  try {
    loaded = require('pg') as PgModule;
  } catch (cause) {
    const error = new Error('pidguard/postgres needs node-postgres, an optional peer dependency: npm install pg', {
      cause,
    }) as Error & { code: string };
    error.code = 'ERR_PIDGUARD_NO_PG';
    throw error;
  }
  return loaded;
}
