// The benchmark's report: one line saying when and on what it was measured, and the table of every
// row, printed and written into docs/performance.md (between its markers, so never pasted by hand).
// BENCH_DOC=<page> writes another page instead (a copy, to try it), BENCH_DOC= (empty) none.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { docTarget, writeSection } from '../scripts/doc-section.mjs';
import { formatTable, withRatios } from './stats.mjs';

/** The marker name of the generated table in docs/performance.md. */
export const BENCH_SECTION = 'bench-table';

const PAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'performance.md');

/** When and where the rows were measured: `fileSystems` names the directories' file systems ("/tmp on ext4"). */
export function benchHeader(fileSystems, date = new Date()) {
  const cpus = os.cpus();
  return `Measured by \`npm run bench\` on ${date.toISOString().slice(0, 10)}: ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}; ${fileSystems}.`;
}

/** Prints the report, and writes it into the page BENCH_DOC names (docs/performance.md unless set); returns that page, or null. */
export function report(header, rows, setting = process.env.BENCH_DOC) {
  const text = `${header}\n\n${formatTable(withRatios(rows))}`;
  console.log(`${text}\n`);
  const page = docTarget(setting, PAGE);
  if (page !== null) writeSection(page, BENCH_SECTION, text);
  return page;
}
