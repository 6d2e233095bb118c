// pidguard/postgres: one holder across a fleet of hosts, on PostgreSQL session advisory locks,
// with loss detection and fencing tokens. The public surface; see docs/across-hosts.md.
// node-postgres (pg) is an optional peer dependency, loaded at the first connection.
export { acquire, connect } from './acquire';
export { inspect, type FleetStatus } from './inspect';
export { FleetLock } from './lock';
export { FleetSession } from './session';
export { LockedError } from '../errors';
export type { FleetError } from './errors';
export type { FleetAcquireOptions, FleetConnectOptions, FleetInspectOptions, FleetOptions } from './options';
export type { PgClientConfig } from './driver';
export type { Logger } from '../logger';
