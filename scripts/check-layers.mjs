// Checks the layering that ARCHITECTURE.md states: in src/, every import (types included) points
// down the list of layers or stays in its own folder, never up or sideways, and no import that runs
// comes back round to its file; in native/, the core never includes the Node-API side, and no header includes
// itself back. Prints each breach and exits 1; `node scripts/check-layers.mjs`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * src/'s layers, lowest first: a file may import files of its own group, and of lower layers.
 * Groups in one layer may not import each other (the mechanisms never know one another).
 */
const LAYERS = [
  ['util', 'addon'],
  ['vocabulary'], // errors.ts, logger.ts, options.ts, holding.ts, mechanism.ts: what every layer speaks
  ['file', 'process'],
  ['kernel', 'stale-pid', 'postgres'], // the mechanisms
  ['surface'], // index.ts, acquire.ts, inspect.ts, pid-lock.ts, status.ts
  ['cli'],
];
const VOCABULARY = new Set(['errors.ts', 'logger.ts', 'options.ts', 'holding.ts', 'mechanism.ts']);

/** Imports that run up, kept on record: each is a named exception, never a silent one. */
const EXCEPTIONS = new Map([]);

function groupOf(file) {
  const [first, ...rest] = file.split('/');
  if (rest.length > 0) return first;
  return VOCABULARY.has(first) ? 'vocabulary' : 'surface';
}

const layerOf = (group) => LAYERS.findIndex((layer) => layer.includes(group));

function walk(dir, ext) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return walk(full, ext);
    return ext.some((e) => entry.name.endsWith(e)) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/**
 * The relative imports of a TypeScript file (import, export from, require), resolved, each marked
 * `typeOnly` when it is an `import type` or `export type` statement, which tsc erases: it never runs.
 */
function tsImports(src, file) {
  const text = fs.readFileSync(path.join(src, file), 'utf8');
  const statements = [...text.matchAll(/\b(?:import|export)\s+(type\s+)?[^;'"]*?from\s+'(\.{1,2}\/[^']+)'/g)]
    .map((match) => ({ spec: match[2], typeOnly: match[1] !== undefined }));
  const required = [...text.matchAll(/\b(?:require|import)\(\s*'(\.{1,2}\/[^']+)'/g)].map((match) => ({ spec: match[1], typeOnly: false }));
  return [...statements, ...required].map(({ spec, typeOnly }) => {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
    return { target: fs.existsSync(path.join(src, `${target}.ts`)) ? `${target}.ts` : `${target}/index.ts`, typeOnly };
  });
}

/** Every cycle's first edge back, by depth-first search over `edges` (file -> files). */
function cycles(edges) {
  const found = [];
  const state = new Map(); // 1: on the stack, 2: done
  const visit = (node, stack) => {
    state.set(node, 1);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 1) found.push([...stack.slice(stack.indexOf(next)), node, next].join(' -> '));
      else if (!state.has(next)) visit(next, [...stack, node]);
    }
    state.set(node, 2);
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node, []);
  return [...new Set(found)];
}

const breaches = [];

// src/
const src = path.join(root, 'src');
const files = walk(src, ['.ts']).map((full) => path.relative(src, full).split(path.sep).join('/'));
const imports = new Map(files.map((file) => [file, tsImports(src, file)]));
const usedExceptions = new Set();
for (const [file, found] of imports) {
  const from = groupOf(file);
  for (const { target } of found) {
    const to = groupOf(target);
    const edge = `${file} -> ${target}`;
    if (layerOf(from) < 0 || layerOf(to) < 0) breaches.push(`${edge}: ${layerOf(from) < 0 ? from : to} is in no layer`);
    else if (from === to || layerOf(to) < layerOf(from)) continue;
    else if (EXCEPTIONS.has(edge)) usedExceptions.add(edge);
    else breaches.push(`${edge}: ${from} may not import ${to} (${layerOf(to) > layerOf(from) ? 'up' : 'sideways'})`);
  }
}
for (const edge of EXCEPTIONS.keys()) if (!usedExceptions.has(edge)) breaches.push(`${edge}: an exception on record that no longer happens; remove it`);
// Only imports that run can go round: a type imported back is erased by tsc.
const running = new Map([...imports].map(([file, found]) => [file, found.filter((edge) => !edge.typeOnly).map((edge) => edge.target)]));
breaches.push(...cycles(running).map((cycle) => `import cycle: ${cycle}`));

// native/: the core knows nothing of Node; the binding files only convert.
const native = path.join(root, 'native');
const BINDING_HEADERS = new Set(['napi.h', 'handle.h', 'exports.h']);
const includes = new Map(walk(native, ['.c', '.h']).map((full) => {
  const text = fs.readFileSync(full, 'utf8');
  const local = [...text.matchAll(/^#include "([^"]+)"/gm)].map((match) => match[1]);
  const nodeApi = /^#include <(node_api|js_native_api)\.h>/m.test(text);
  return [path.basename(full), { local, nodeApi }];
}));
const reaches = (file, seen = new Set()) => {
  for (const next of includes.get(file)?.local ?? []) {
    if (seen.has(next)) continue;
    seen.add(next);
    reaches(next, seen);
  }
  return seen;
};
for (const [file, { nodeApi }] of includes) {
  const reached = reaches(file);
  const binding = nodeApi || file === 'napi.h' || [...reached].some((header) => BINDING_HEADERS.has(header) || includes.get(header)?.nodeApi);
  const core = !BINDING_HEADERS.has(file) && !/binding|^napi|^handle|^wait\.c|^child_win32/.test(file);
  if (core && binding) breaches.push(`native/${file}: part of the core, yet it reaches the Node-API side`);
}
breaches.push(...cycles(new Map([...includes].map(([file, { local }]) => [file, local]))).map((cycle) => `include cycle: ${cycle}`));

for (const breach of breaches) console.error(`check-layers: ${breach}`);
if (breaches.length > 0) process.exit(1);
console.log(`check-layers: ${files.length} files in src/ and ${includes.size} in native/ keep their layers` +
  ` (${usedExceptions.size} exceptions on record, in the script)`);
