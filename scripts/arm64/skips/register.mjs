// Loaded with --import into every Node that test:arm64 starts: has `node:test` imported by the
// suites resolve to node-test.mjs, which marks as skipped, with the reason, the tests that
// qemu-user cannot run (node:test then reports them as skipped, never as passed).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
