// npm run torture: every scenario at full size (about 5 minutes on 2 cores), in both lock modes
// where both apply; TORTURE_SCALE=short|full|<factor> sets the sizes. Prints one line per run and
// a table at the end; exits non-zero on the first violation.
import os from 'node:os';
import { scenarios, sizeFor } from './scenarios.mjs';

const scale = process.env.TORTURE_SCALE ?? 'full';
const results = [];
const started = Date.now();
console.log(`pidguard torture, ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ` +
  `Linux ${os.release()}, Node ${process.version}, ${os.tmpdir()}, scale ${scale}\n`);
for (const scenario of scenarios) {
  for (const mode of scenario.modes) {
    const size = sizeFor(scenario, scale, mode);
    const t0 = Date.now();
    const report = await scenario.run({ ...size, mode });
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    const line = { scenario: scenario.name, mode, size: JSON.stringify(size), seconds, report: JSON.stringify(report) };
    results.push(line);
    console.log(`ok  ${scenario.name} [${mode}] ${line.size} in ${seconds} s: ${line.report}`);
  }
}
console.log(`\nall ${results.length} runs passed in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
console.log('| scenario | mode | size | seconds | what happened |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of results) console.log(`| ${r.scenario} | ${r.mode} | ${r.size.replaceAll('"', '')} | ${r.seconds} | ${r.report.replaceAll('"', '')} |`);
