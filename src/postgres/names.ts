// Lock names: which are valid, the advisory-lock key each one maps to, and the target by which
// the pidguard command names it. Pure.
import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors';

/** The longest name, in UTF-8 bytes: the length of a file name, and short enough for any message. */
export const MAX_NAME_BYTES = 255;

/** How the command, messages and errors name a lock on PostgreSQL: `postgres:<name>`. */
export const TARGET_PREFIX = 'postgres:';

/** `postgres:<name>`, the lock's name wherever a PID file's path would stand. */
export function targetOf(name: string): string {
  return `${TARGET_PREFIX}${name}`;
}

/** A surrogate not in a pair (in a `u` regular expression, a pair is one code point and does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * What a printed name must not hold: C0 and C1 controls and DEL (\p{Cc}), the characters that
 * reorder the text around them (\p{Bidi_Control}: U+061C, U+200E-F, U+202A-E, U+2066-9), and
 * the line and paragraph separators.
 */
const UNPRINTABLE = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;

/** A code point as U+XXXX. */
function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `name` quoted for a message, with every character UNPRINTABLE matches escaped (JSON escapes only C0 and lone surrogates). */
function quoted(name: string): string {
  return JSON.stringify(name).replace(
    new RegExp(UNPRINTABLE.source, 'gu'),
    (char) => `\\u${codePoint(char).slice(2).toLowerCase()}`,
  );
}

/**
 * A name given by the caller, checked: a non-empty string of at most 255 UTF-8 bytes, well-formed
 * Unicode (UTF-8 cannot carry a lone surrogate: it would be written as U+FFFD, and "a\uD800",
 * "a\uDFFF" and "a\uFFFD" would be one lock), with no NUL (which a PostgreSQL text value cannot
 * hold) and no other control character, bidi control or line separator (names are printed).
 */
export function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalidArgument(
      `the lock name must be a non-empty string, got ${typeof name === 'string' ? '""' : String(name)}`,
    );
  }
  const lone = LONE_SURROGATE.exec(name);
  if (lone !== null) {
    throw invalidArgument(
      `the lock name must be well-formed Unicode (it has a lone surrogate, ${codePoint(lone[0])}): ${quoted(name.slice(0, 60))}`,
    );
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    throw invalidArgument(
      `the lock name must be at most ${MAX_NAME_BYTES} bytes of UTF-8, got ${bytes}: ${quoted(name.slice(0, 40))}...`,
    );
  }
  const unprintable = UNPRINTABLE.exec(name);
  if (unprintable !== null) {
    throw invalidArgument(
      `the lock name must not contain control characters (${codePoint(unprintable[0])}): ${quoted(name)}`,
    );
  }
  return name;
}

/**
 * The 64-bit key of the session advisory lock for `name`: the first 8 bytes of SHA-256 over
 * "pidguard:" and the name, as a signed bigint (pg_advisory_lock(bigint) takes a signed one).
 * Every holder of one name, in any language, derives the same key; the prefix keeps pidguard's
 * keys apart from those of applications that hash bare names. Two names share a key with
 * probability 2^-64 per pair: the cost would be needless exclusion, never two holders.
 */
export function lockKey(name: string): bigint {
  return createHash('sha256').update(`pidguard:${name}`, 'utf8').digest().readBigInt64BE(0);
}

/**
 * The key that says a `pidguard run` command is running under the lock `name` (command-session.ts):
 * like lockKey's, with its own prefix, so that it is apart from every lock's key.
 */
export function commandKey(name: string): bigint {
  return createHash('sha256').update(`pidguard-command:${name}`, 'utf8').digest().readBigInt64BE(0);
}

/**
 * Where the lock on `key` shows in pg_locks: classid holds the key's upper 32 bits and objid its
 * lower 32 (both as unsigned oids), with objsubid 1 for a bigint key.
 */
export function lockTag(key: bigint): { classid: number; objid: number } {
  const unsigned = BigInt.asUintN(64, key);
  return { classid: Number(unsigned >> 32n), objid: Number(unsigned & 0xffffffffn) };
}
