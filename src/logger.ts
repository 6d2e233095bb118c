// Where pidguard reports what it does: util.debuglog('pidguard') unless the caller gives a logger.
import { debuglog } from 'node:util';

/** Any object with these four methods will do: console, pino, winston, bunyan. */
export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

// Made on first use: creating a debuglog reads NODE_DEBUG and costs more than it seems at require().
let debugFunction: ((message: string, ...details: unknown[]) => void) | undefined;
const debug = (message: string, ...details: unknown[]): void => {
  debugFunction ??= debuglog('pidguard');
  debugFunction(message, ...details);
};

/** Prints with NODE_DEBUG=pidguard, and is silent otherwise: a library should not write to stderr unasked. */
export const defaultLogger: Logger = {
  debug: (message, ...details) => debug(message, ...details),
  info: (message, ...details) => debug(message, ...details),
  warn: (message, ...details) => debug(`warning: ${message}`, ...details),
  error: (message, ...details) => debug(`error: ${message}`, ...details),
};
