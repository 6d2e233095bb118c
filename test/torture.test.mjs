// The torture scenarios (torture/, `npm run torture`) at their short sizes, in both modes where
// both apply, and the storm's journal checker shown to catch what it is there to catch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scenarios } from '../torture/scenarios.mjs';
import { checkJournal } from '../torture/storm.mjs';

const linux = process.platform === 'linux';

test("the storm's journal checker refuses two holders, and a refusal naming a non-holder", () => {
  assert.deepEqual(checkJournal(['round 1', 'enter 10', 'refused 11 10', 'leave 10']), { rounds: 1, enters: 1, refusals: 1 });
  // A holder that died mid-round lets the next one in, even though its death is recorded later.
  assert.equal(checkJournal(['round 1', 'enter 10', 'enter 11', 'died 10', 'leave 11']).enters, 2);
  assert.throws(() => checkJournal(['round 1', 'enter 10', 'enter 11', 'leave 11']), /11 entered while 10 held the lock/);
  // The winner killed at the end of the round excuses nobody who entered before.
  assert.throws(() => checkJournal(['round 1', 'enter 10', 'enter 11', 'killed 10']), /11 entered while 10 held/);
  assert.throws(() => checkJournal(['round 1', 'enter 10', 'refused 11 12', 'leave 10']), /naming 12, which held nothing/);
  assert.throws(() => checkJournal(['round 1', 'enter 10', 'refused 11 null', 'leave 10']), /naming null/);
  assert.throws(() => checkJournal(['round 1', 'enter 10', 'round 2']), /starts with 10 still inside/);
});

for (const scenario of scenarios) {
  for (const mode of scenario.modes) {
    const skip = (!linux && 'uses /proc and flock(1)') || (scenario.skip?.() ?? false);
    test(`torture, short: ${scenario.name} [${mode}]`, { skip, timeout: 120_000 }, async (t) => {
      const report = await scenario.run({ ...scenario.short, mode });
      if (report?.skipped !== undefined) t.skip(report.skipped);
      else t.diagnostic(JSON.stringify(report));
    });
  }
}
