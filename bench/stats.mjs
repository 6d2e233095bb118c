// Summaries of timing samples, and the one table the benchmark prints. Pure.

export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

export function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  return { n: sorted.length, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), max: sorted.at(-1) };
}

/** A number for the table: 3 significant decimals below 10, one above. */
export function fixed(value) {
  if (!Number.isFinite(value)) return '-';
  return value.toFixed(value < 10 ? 3 : 1);
}

/**
 * A row of the table: `summary` in `unit`, with `ratio` the median over pidguard's in the same
 * scenario (filled in by `withRatios`) and a free-text `note`.
 */
export function row(scenario, library, summary, unit, note = '') {
  return { scenario, library, summary, unit, note };
}

/** Adds to each row its median over the first row's of the same scenario (pidguard's). */
export function withRatios(rows) {
  const base = new Map();
  for (const r of rows) if (!base.has(r.scenario)) base.set(r.scenario, r.summary.median);
  return rows.map((r) => ({ ...r, ratio: r.summary.median / base.get(r.scenario) }));
}

/** Rows as one aligned Markdown table: its lines, joined. */
export function formatTable(rows) {
  const header = ['scenario', 'library', 'n', 'median', 'p90', 'p99', 'max', 'unit', 'x pidguard', 'note'];
  const lines = rows.map((r) => [
    r.scenario, r.library, String(r.summary.n), fixed(r.summary.median), fixed(r.summary.p90), fixed(r.summary.p99), fixed(r.summary.max),
    r.unit, Number.isFinite(r.ratio) ? r.ratio.toFixed(r.ratio < 10 ? 2 : 0) : '-', r.note,
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((cells) => cells[i].length)));
  const format = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [format(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...lines.map(format)].join('\n');
}

/** Prints rows as one aligned Markdown table. */
export function printTable(rows) {
  console.log(formatTable(rows));
}
