// parsePid and formatPid: the PID file's text, without any file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pidText from '../dist/file/pid-text.js';

const { parsePid, formatPid, MAX_PID } = pidText;
const bytes = (text) => Buffer.from(text, 'latin1');

test('parses a PID with or without one newline', () => {
  assert.equal(parsePid(bytes('1234\n')), 1234);
  assert.equal(parsePid(bytes('1234')), 1234);
  assert.equal(parsePid(bytes('1234\r\n')), 1234);
  assert.equal(parsePid(bytes('1\n')), 1);
  assert.equal(parsePid(bytes(`${MAX_PID}\n`)), MAX_PID);
});

test('refuses everything that is not exactly a PID', () => {
  const refused = [
    '', '\n', '\r\n', '0', '0\n', '00', '0123\n', '-1\n', '+5\n', ' 5\n', '5 \n', '5\n\n', '5\n6\n',
    '12a\n', 'abc', '1.5\n', '1e3\n', `${MAX_PID + 1}\n`, '99999999999\n', '\u0000\u0001', '\t7\n',
    '5\r', '\r', '१२३',
  ];
  for (const text of refused) assert.equal(parsePid(Buffer.from(text)), null, JSON.stringify(text));
});

test('refuses random binary contents without throwing', () => {
  let state = 42;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 5000; i += 1) {
    const buffer = Buffer.from(Array.from({ length: Math.floor(random() * 20) }, () => Math.floor(random() * 256)));
    const parsed = parsePid(buffer);
    const text = buffer.toString('latin1');
    const expected = /^[1-9][0-9]{0,9}(\r?\n)?$/.test(text) && Number.parseInt(text, 10) <= MAX_PID ? Number.parseInt(text, 10) : null;
    assert.equal(parsed, expected, JSON.stringify(text));
  }
});

test('formats a PID as "<pid>\\n" and refuses what is not one', () => {
  assert.equal(formatPid(4321), '4321\n');
  for (const bad of [0, -1, 1.5, Number.NaN, MAX_PID + 1]) assert.throws(() => formatPid(bad), RangeError);
});
