// The addon's sources, defines and C flags as binding.gyp lists them, read when a build runs, so
// that the builds made without node-gyp (cross-compiled: win32, linux-arm64, musl) can never
// compile a stale list. binding.gyp is a Python literal (comments, single quotes), so Python
// reads it, as gyp itself does.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** binding.gyp, parsed. */
function readGyp() {
  const program = 'import ast, json, sys; print(json.dumps(ast.literal_eval(open(sys.argv[1]).read())))';
  return JSON.parse(execFileSync('python3', ['-c', program, path.join(root, 'binding.gyp')], { encoding: 'utf8' }));
}

/**
 * What binding.gyp says target `pidguard` compiles for `os` ('win' or 'posix'): its sources (paths
 * relative to the repository), defines and C flags (`cflags_c`, POSIX only), with the branch of each
 * OS=='win' condition that applies. Any other condition is refused rather than guessed at.
 */
export function addonBuild(os) {
  const target = readGyp().targets.find((t) => t.target_name === 'pidguard');
  if (target === undefined) throw new Error('binding.gyp has no target named pidguard');
  const build = { sources: [...(target.sources ?? [])], defines: [...(target.defines ?? [])], cflags: [...(target.cflags_c ?? [])] };
  for (const [condition, whenTrue, whenFalse = {}] of target.conditions ?? []) {
    if (condition.replace(/\s+/g, '') !== "OS=='win'") throw new Error(`binding.gyp: cannot evaluate the condition ${condition} here`);
    const branch = os === 'win' ? whenTrue : whenFalse;
    build.sources.push(...(branch.sources ?? []));
    build.defines.push(...(branch.defines ?? []));
    build.cflags.push(...(branch.cflags_c ?? []));
  }
  return build;
}
