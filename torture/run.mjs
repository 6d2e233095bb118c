// npm run torture: every scenario at full size (about 5 minutes on 2 cores), in both lock modes
// where both apply; TORTURE_SCALE=short|full|<factor> sets the sizes, TORTURE_ONLY=<words> runs only
// the scenarios whose name contains them. Prints one line per run and a table at the end; exits
// non-zero on the first violation. A full run of every scenario also writes the table into
// docs/reliability.md (between its markers, so never pasted by hand); TORTURE_DOC=<page> writes
// another page whatever the run (a copy, to try it), TORTURE_DOC= (empty) none.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { docTarget, writeSection } from '../scripts/doc-section.mjs';
import { scenarios, sizeFor } from './scenarios.mjs';

/** The marker name of the generated table in docs/reliability.md. */
const TORTURE_SECTION = 'torture-table';
const PAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'reliability.md');

const scale = process.env.TORTURE_SCALE ?? 'full';
const only = process.env.TORTURE_ONLY?.toLowerCase() ?? '';
const chosen = scenarios.filter((scenario) => scenario.name.toLowerCase().includes(only));
if (chosen.length === 0) throw new Error(`TORTURE_ONLY=${only} names no scenario`);
const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${os.type()} ${os.release()}, Node ${process.version}, ${os.tmpdir()}`;
const results = [];
const started = Date.now();
console.log(`pidguard torture, ${new Date().toISOString().slice(0, 10)}: ${machine}, scale ${scale}\n`);
let skipped = 0;
for (const scenario of chosen) {
  for (const mode of scenario.modes) {
    const size = sizeFor(scenario, scale, mode);
    // A scenario that cannot run here (no PostgreSQL server, not root, ...) says why, and is
    // counted as skipped, never as passed.
    const cannot = scenario.skip?.() || false;
    const t0 = Date.now();
    const report = cannot ? { skipped: cannot } : await scenario.run({ ...size, mode });
    const seconds = cannot ? '-' : ((Date.now() - t0) / 1000).toFixed(1);
    const line = { scenario: scenario.name, mode, size: JSON.stringify(size), seconds, report: JSON.stringify(report) };
    results.push(line);
    if (report?.skipped !== undefined) {
      skipped += 1;
      console.log(`skip ${scenario.name} [${mode}]: ${report.skipped}`);
    } else {
      console.log(`ok  ${scenario.name} [${mode}] ${line.size} in ${seconds} s: ${line.report}`);
    }
  }
}
const total = ((Date.now() - started) / 1000).toFixed(0);
const passed = results.length - skipped;
const outcome = `${passed} run${passed === 1 ? '' : 's'} passed${skipped > 0 ? `, ${skipped} skipped (said why)` : ''} in ${total} s`;
console.log(`\n${skipped === 0 ? 'all ' : ''}${outcome}\n`);
const table = [
  '| scenario | mode | size | seconds | what happened |',
  '| --- | --- | --- | --- | --- |',
  ...results.map((r) => `| ${r.scenario} | ${r.mode} | ${r.size.replaceAll('"', '')} | ${r.seconds} | ${r.report.replaceAll('"', '')} |`),
].join('\n');
console.log(table);

// Only a run of everything at full size stands for "the last full run"; anything else is written
// only where TORTURE_DOC asks.
const whole = scale === 'full' && chosen.length === scenarios.length;
const page = docTarget(process.env.TORTURE_DOC, whole ? PAGE : null);
if (page !== null) {
  const what = whole ? 'The last full run' : `A run (scale ${scale}${only === '' ? '' : `, only ${only}`})`;
  const header = `${what}, ${new Date().toISOString().slice(0, 10)} (\`npm run torture\`; ${machine}): ${skipped === 0 ? 'all ' : ''}${outcome}.`;
  writeSection(page, TORTURE_SECTION, `${header}\n\n${table}`);
  console.log(`\nthe table is written into ${page}`);
}
