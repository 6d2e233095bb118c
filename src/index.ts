// pidguard: atomic PID-file singletons. The public surface; see README.md.
export { acquire, acquireSync, lock, lockSync } from './acquire';
export { inspect, inspectSync, readPid } from './inspect';
export { PidLock } from './pid-lock';
export { LockedError, type LockSystemError } from './errors';
export type { AcquireOptions, InspectOptions, LockMode, LockOptions } from './options';
export type { LockStatus } from './status';
export type { HeldMode } from './holding';
export type { Logger } from './logger';
