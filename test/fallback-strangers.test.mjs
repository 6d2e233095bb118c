// The stale-PID fallback in a directory that other users can write (a sticky, world-writable
// directory such as /tmp), with another user (nobody, through setpriv) planting files there: a PID
// file of theirs is refused, never adopted; claims and drafts they plant under the names pidguard
// would use neither block a takeover or an acquire nor get removed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { acquireSync, readPid } from 'pidguard';
import { run, startAgents, startSleeper, tempDir } from './helpers.mjs';

const pidfile = { mode: 'pidfile' };
const NOBODY = 65534;
const asRoot = process.platform === 'linux' && process.getuid() === 0;
const setprivSkip = !asRoot ? 'needs root, to act as nobody through setpriv'
  : run('setpriv', ['--version']).status !== 0 ? 'no setpriv (util-linux; .ci/run installs it)'
  : false;

/** A directory like /tmp: anyone may create files there, and remove only their own. */
function stickyDir(t) {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o1777);
  return dir;
}

/** Writes `text` to each of `files` as nobody. */
function plantAsNobody(files, text) {
  const script = "for (const f of process.argv.slice(1)) require('fs').writeFileSync(f, process.env.TEXT)";
  const result = run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', script, ...files], {
    env: { ...process.env, TEXT: text },
  });
  assert.equal(result.status, 0, result.stderr);
  for (const file of files) assert.equal(fs.statSync(file).uid, NOBODY);
}

/** A PID that no process has: one that just exited. */
function deadPid() {
  return Number(run(process.execPath, ['-e', 'console.log(process.pid)']).stdout);
}

/**
 * The names of the claims on the version of `file` now there, as anyone who can stat it can
 * work them out: this version's (device, mtime in microseconds, PID) and, for the code before
 * it, the earlier scheme's (device, inode, mtime).
 */
function claimNames(file, pid, levels) {
  const stat = fs.statSync(file, { bigint: true });
  const micros = Math.round((Number(stat.mtimeNs) / 1e6) * 1000);
  const base = path.basename(file);
  return Array.from({ length: levels }, (_, i) => [
    `.${base}.claim.${stat.dev}-${micros}-${pid}.${i + 1}`,
    `.${base}.takeover.${stat.dev}-${stat.ino}-${micros}.${i + 1}`,
  ]).flat().map((name) => path.join(path.dirname(file), name));
}

test("another user's claims on a stale file are passed over, not trusted and not removed", { skip: setprivSkip }, (t) => {
  const dir = stickyDir(t);
  const file = path.join(dir, 'app.pid');
  const dead = deadPid();
  fs.writeFileSync(file, `${dead}\n`);
  // Claims holding PID 1, always alive: trusted, they would say "being taken over" for ever.
  const planted = claimNames(file, dead, 8);
  plantAsNobody(planted, '1\n');
  const held = acquireSync(file, pidfile);
  assert.equal(readPid(file), process.pid);
  held.release();
  assert.equal(fs.existsSync(file), false);
  for (const claim of planted) assert.equal(fs.readFileSync(claim, 'utf8'), '1\n', `${claim} was touched`);
});

test("another user's files under the draft names an acquirer would use do not make it fail, even with failOpen", { skip: setprivSkip }, async (t) => {
  const dir = stickyDir(t);
  const file = path.join(dir, 'app.pid');
  const [agent] = await startAgents(t, 1);
  const planted = Array.from({ length: 32 }, (_, i) => path.join(dir, `.app.pid.${os.hostname()}.${agent.pid}.${i + 1}.pidguard`));
  plantAsNobody(planted, 'not yours\n');
  const answer = await agent.ask({ op: 'acquire', path: file, options: { ...pidfile, failOpen: true } });
  assert.equal(answer.ok, true, answer.message);
  assert.equal(readPid(file), agent.pid, 'held for real, not an unheld failOpen handle');
  assert.deepEqual(await agent.ask({ op: 'release' }), { ok: true });
  assert.deepEqual(fs.readdirSync(dir).sort(), planted.map((p) => path.basename(p)).sort());
});

test('a PID file another user owns, or anyone may write, is refused with EPERM and left as it is', { skip: setprivSkip }, async (t) => {
  const dir = stickyDir(t);
  const file = path.join(dir, 'app.pid');
  const refused = (pattern) => (error) => {
    assert.equal(error.code, 'EPERM', error.message);
    assert.equal(error.path, file);
    assert.match(error.message, new RegExp(`^EPERM: operation not permitted: the PID file is ${pattern}.*, open '${file}'$`));
    return true;
  };
  // Stale by its PID: a stranger's file is still never taken over.
  const dead = deadPid();
  plantAsNobody([file], `${dead}\n`);
  assert.throws(() => acquireSync(file, pidfile), refused(`owned by uid ${NOBODY}, not by this user \\(uid 0\\) or root`));
  // Naming a live process: the stranger is not believed either.
  const { child: sleeper } = await startSleeper(t);
  fs.rmSync(file);
  plantAsNobody([file], `${sleeper.pid}\n`);
  assert.throws(() => acquireSync(file, pidfile), refused(`owned by uid ${NOBODY}`));
  assert.equal(fs.readFileSync(file, 'utf8'), `${sleeper.pid}\n`);
  // Root's own file that anyone may write.
  fs.rmSync(file);
  fs.writeFileSync(file, `${dead}\n`);
  fs.chmodSync(file, 0o666);
  assert.throws(() => acquireSync(file, pidfile), refused('writable by all users'));
  assert.equal(fs.readFileSync(file, 'utf8'), `${dead}\n`);
  assert.deepEqual(fs.readdirSync(dir), ['app.pid']);
});

/** Runs `script` (with pidguard's entry as `pidguard` and argv[1] = `file`) as a user other than root and nobody. */
function asService(script, file) {
  const entry = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'index.js');
  const result = run('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, '-e',
    `const pidguard = require(${JSON.stringify(entry)}); ${script}`, file]);
  return result;
}

test("a file another user planted where a claim goes, unreadable to the service, neither blocks a takeover nor a release", { skip: setprivSkip, timeout: 60_000 }, (t) => {
  // A service running as an ordinary user (root could read the plant): nobody plants one file it
  // may not read under the claim names of the service's own version and of a stale one.
  const dir = stickyDir(t);
  const file = path.join(dir, 'app.pid');
  const take = `const lock = pidguard.acquireSync(process.argv[1], { mode: 'pidfile', wait: 2000 }); console.log(require('fs').readFileSync(process.argv[1], 'utf8').trim());`;
  // A holder SIGKILLed: its file is stale, and nobody plants at that version's claim name.
  assert.equal(asService(`${take} process.kill(process.pid, 'SIGKILL');`, file).signal, 'SIGKILL');
  const stalePid = Number(fs.readFileSync(file, 'utf8'));
  const plant = (names) => {
    const result = run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'sh', '-c', 'umask 777; for f; do : > "$f"; done', 'sh', ...names]);
    assert.equal(result.status, 0, result.stderr);
  };
  plant(claimNames(file, stalePid, 1));
  const taken = asService(`${take} lock.release(); console.log(require('fs').existsSync(process.argv[1]));`, file);
  assert.equal(taken.status, 0, taken.stderr);
  assert.notEqual(Number(taken.stdout.split('\n')[0]), stalePid, 'the stale file was taken over');
  assert.equal(taken.stdout.split('\n')[1], 'false', 'and removed on release');
  // 64 readable claims of nobody's on a stale version are passed over too, without counting
  // against the service's own limit of dead claimers.
  assert.equal(asService(`${take} process.kill(process.pid, 'SIGKILL');`, file).signal, 'SIGKILL');
  const stale2 = Number(fs.readFileSync(file, 'utf8'));
  plantAsNobody(claimNames(file, stale2, 64).filter((name) => name.includes('.claim.')), '1\n');
  assert.equal(asService(`${take} lock.release();`, file).status, 0);
});
