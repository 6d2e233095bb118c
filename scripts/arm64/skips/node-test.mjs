// node:test as the suites see it under test:arm64: the same, but test() marks as skipped the tests
// named in PIDGUARD_SKIP_TESTS (JSON: { name: reason }), with their reason.
import nodeTest from 'node:test';

export * from 'node:test';

const skips = JSON.parse(process.env.PIDGUARD_SKIP_TESTS ?? '{}');

export function test(name, options, fn) {
  const reason = typeof name === 'string' ? skips[name] : undefined;
  if (reason === undefined) return nodeTest.test(name, options, fn);
  if (typeof options === 'function') return nodeTest.test(name, { skip: reason }, options);
  return nodeTest.test(name, { ...options, skip: reason }, fn);
}

export default nodeTest;
