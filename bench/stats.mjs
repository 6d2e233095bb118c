// Summaries of timing samples. Pure.

export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), max: sorted.at(-1) };
}

export function ms(value) {
  return Number.isFinite(value) ? value.toFixed(value < 10 ? 3 : 1) : '-';
}

/** Prints rows of { name, ...columns } as an aligned Markdown table. */
export function printTable(title, columns, rows) {
  const header = ['', ...columns];
  const lines = rows.map((row) => [row.name, ...columns.map((column) => String(row[column]))]);
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((cells) => cells[i].length)));
  const format = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(format(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const cells of lines) console.log(format(cells));
}
