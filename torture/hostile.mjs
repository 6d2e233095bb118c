// Hostile PID file contents: thousands of random contents and sizes. readPid must parse exactly
// the valid ones (checked against an independent reference), and acquire must take the file or
// refuse it cleanly, never throw anything else or crash.
import fs from 'node:fs';
import path from 'node:path';
import { acquireSync, readPid } from 'pidguard';
import { check, random, scratch } from './lib.mjs';

const MAX_PID = 2 ** 31 - 1;

/** The reference: decimal digits, no sign, no leading zero or space, at most one \n or \r\n. */
export function referencePid(bytes) {
  const match = /^([1-9][0-9]*)(\r?\n)?$/.exec(Buffer.from(bytes).toString('latin1'));
  if (match === null || match[1].length > 10) return null;
  const pid = Number(match[1]);
  return pid <= MAX_PID ? pid : null;
}

const PIECES = ['0', '1', '7', '42', '4242', '2147483647', '2147483648', '4294967296', '99999999999', '-1', '+1', ' ', '\t',
  '\n', '\r\n', '\r', '\0', 'x', '0x10', '1e3', '١٢', 'ff', '\u00e9', '007', '.'];

function randomContents() {
  switch (random(5)) {
    case 0: // random bytes
      return Buffer.from(Array.from({ length: random(40) }, () => random(256)));
    case 1: // a few plausible pieces glued together
      return Buffer.from(Array.from({ length: 1 + random(4) }, () => PIECES[random(PIECES.length)]).join(''), 'utf8');
    case 2: // a number and maybe a line end
      return Buffer.from(`${random(2) ? random(MAX_PID) + 1 : random(100000)}${['', '\n', '\r\n', '\n\n', ' '][random(5)]}`);
    case 3: // huge
      return Buffer.alloc(1 + random(1 << 20), String(random(10)));
    default: // empty or a line end alone
      return Buffer.from(['', '\n', '\r\n'][random(3)]);
  }
}

export function hostile({ files, mode }) {
  const { dir, cleanup } = scratch('hostile');
  const file = path.join(dir, 'hostile.pid');
  let valid = 0;
  let refused = 0;
  try {
    for (let i = 0; i < files; i += 1) {
      const contents = randomContents();
      fs.writeFileSync(file, contents);
      const expected = referencePid(contents);
      const parsed = readPid(file);
      check(parsed === expected, `readPid read ${parsed} from ${JSON.stringify(contents.toString('latin1').slice(0, 40))}, expected ${expected}`);
      if (expected !== null) valid += 1;
      try {
        // Backdated, so that the fallback's grace for a young empty file does not apply.
        fs.utimesSync(file, new Date(0), new Date(0));
        acquireSync(file, { mode }).release();
      } catch (error) {
        // Only the fallback refuses, and only for a PID that names a running process.
        check(error.code === 'ELOCKED' && mode === 'pidfile' && error.pid === expected, `acquire threw ${error.code}: ${error.message}`);
        refused += 1;
      }
    }
    return { files, valid, refused };
  } finally {
    cleanup();
  }
}
