// The generated part of a docs page: the text between its two marker comments, replaced whole by
// the run that measured it (bench/run.mjs into docs/performance.md, torture/run.mjs into
// docs/reliability.md), so that no table of figures is ever pasted by hand. The rest of the page
// is left byte for byte as it was.
import fs from 'node:fs';
import path from 'node:path';

/** The two comments that enclose the part named `name` (written on lines of their own). */
export function markers(name) {
  return {
    start: `<!-- ${name}: written by the run that measured it; edits here are overwritten -->`,
    end: `<!-- ${name}: end -->`,
  };
}

/** Where the marker `marker` is in `text`; throws unless it is there exactly once. */
function findOnce(text, marker, page) {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`${page}: no marker ${marker}`);
  if (text.indexOf(marker, at + marker.length) >= 0) throw new Error(`${page}: the marker ${marker} is there twice`);
  return at;
}

/**
 * `text` with the part named `name` replaced by `body` (its lines; a blank line is kept after the
 * start marker and before the end marker, so that Markdown reads the body as blocks of its own).
 * Pure. Throws when the markers are missing, doubled or in the wrong order: a page whose part
 * cannot be found is never written at all.
 */
export function replaceSection(text, name, body, page = 'the page') {
  const { start, end } = markers(name);
  const from = findOnce(text, start, page) + start.length;
  const to = findOnce(text, end, page);
  if (to < from) throw new Error(`${page}: the end marker of ${name} comes before its start`);
  return `${text.slice(0, from)}\n\n${body.trim()}\n\n${text.slice(to)}`;
}

/**
 * Replaces the part named `name` of the page at `file` with `body`: written to a file beside it and
 * renamed over it, so that a run interrupted while writing leaves the page as it was.
 */
export function writeSection(file, name, body) {
  const next = replaceSection(fs.readFileSync(file, 'utf8'), name, body, file);
  const draft = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(draft, next);
  fs.renameSync(draft, file);
}

/**
 * The page a run writes its figures into: `setting` (an environment variable's value) names one;
 * unset, `fallback` (null: none); set but empty, none.
 */
export function docTarget(setting, fallback) {
  if (setting === undefined) return fallback;
  return setting === '' ? null : path.resolve(setting);
}
