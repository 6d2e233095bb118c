// `pidguard run` struck by every signal it can catch, and killed outright, while its command
// runs and contenders keep trying to start a second copy (hostile issue 13, item 1). Every
// command records enter and leave in an O_APPEND journal, which must never show two at once.
//
// Round by round: the holder's pidguard gets one of the kinds below; the barrier is the
// command's "got" line for a signal passed on, or pidguard's death for the others. Then every
// contender must be refused at least once more while the command runs, the file must still name
// the command, and only then is the command told to leave (a file it waits for).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, here, readJournal, scratch } from './lib.mjs';

const root = path.join(here, '..');
const { FORWARDED_SIGNALS } = await import(path.join(root, 'dist', 'cli', 'signals.js'));

/** What may end pidguard outright: uncatchable, a fault's signal, real-time (34 is SIGRTMIN), and an uncaught error. */
const KILLERS = ['SIGKILL', 'SIGSEGV', 37, 64, 'throw'];

/** Every kind, the ones that bit before first (a short run takes the first few). */
const KINDS = ['SIGKILL', 37, 'throw', 'SIGALRM', 'SIGPWR', 'SIGABRT', ...KILLERS, ...FORWARDED_SIGNALS]
  .filter((kind, index, all) => all.indexOf(kind) === index);

/** Exit statuses a contender's pidguard may have: the command's 0, refused (-E 75), or killed by a kind. */
const EXPECTED_EXITS = new Set([0, 75, 1, 128 + 9, 128 + 11, 128 + 37, 128 + 64]);

/**
 * Checks a journal: at most one command between its enter and its leave, "got" only for the
 * command inside, and no contender ending in a way none of the kinds explains. Returns counts.
 */
export function checkWrapperJournal(lines) {
  let inside = null;
  let enters = 0;
  let refusals = 0;
  for (const [index, line] of lines.entries()) {
    const [what, a] = line.split(' ');
    const at = `journal line ${index + 1} (${line})`;
    if (what === 'enter') {
      check(inside === null, `${at}: ${a} entered while ${inside} ran`);
      inside = a;
      enters += 1;
    } else if (what === 'leave') {
      check(inside === a, `${at}: ${a} left without being inside`);
      inside = null;
    } else if (what === 'got') {
      check(inside === line.split(' ')[2], `${at}: a signal reached a command that was not inside`);
    } else if (what === 'exit') {
      if (a === '75') refusals += 1;
      check(EXPECTED_EXITS.has(Number(a)), `${at}: a pidguard exited ${a}`);
    } else {
      check(false, `${at}: not a journal line`);
    }
  }
  return { enters, refusals };
}

/** The command: says which signals it gets, enters, waits for its release file, leaves. */
function jobScript(names) {
  return `cd "$(dirname "$0")"
for s in ${names.join(' ')}; do trap "echo \\"got $s $$\\" >> journal" $s; done
echo "enter $$ $PPID" >> journal
while [ ! -e release.$$ ]; do sleep 0.05 & wait $!; done
echo "leave $$" >> journal
`;
}

/** A contender: starts `pidguard run` again and again until told to stop, journaling each exit. */
function contenderScript(pidfile) {
  return `ulimit -c 0
cd "$(dirname "$0")"
while [ ! -e stop ]; do
  node ${JSON.stringify(path.join(root, 'bin', 'pidguard.js'))} run -E 75 ${JSON.stringify(pidfile)} -- bash job.sh 2>/dev/null
  echo "exit $?" >> journal
done
`;
}

function alive(pid) {
  try {
    // A zombie is dead: its pidguard ended, whoever reaps it.
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves with the first journal line after `from` that `test` accepts, and its index. */
async function journalLine(file, from, test, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = readJournal(file);
    for (let i = from; i < lines.length; i += 1) if (test(lines[i])) return { line: lines[i], index: i };
    check(Date.now() < deadline, `no ${what} in the journal within ${timeoutMs} ms`);
    await sleep(5);
  }
}

async function until(condition, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    check(Date.now() < deadline, `${what} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** `cycles` times each of the first `kinds` kinds (all 25 at full size), with `contenders` trying throughout. */
export async function wrapperSignals({ cycles, contenders, kinds: kindCount, mode }) {
  const { dir, cleanup } = scratch('wrapper');
  const journal = path.join(dir, 'journal');
  const pidfile = path.join(dir, 'app.pid');
  const faults = path.join(dir, 'faults');
  fs.mkdirSync(faults);
  fs.writeFileSync(path.join(dir, 'job.sh'), jobScript(FORWARDED_SIGNALS.map((name) => name.slice(3))));
  fs.writeFileSync(path.join(dir, 'contender.sh'), contenderScript(pidfile));
  const env = {
    ...process.env,
    PIDGUARD_MODE: mode,
    // The test-only hook that makes pidguard throw on cue (creating faults/throw).
    NODE_OPTIONS: `--require ${path.join(root, 'test', 'fixtures', 'cli-fault.cjs')}`,
    PIDGUARD_TEST_FAULT_DIR: faults,
  };
  // One loop more than `contenders`: one of them is always the holder's.
  const loops = Array.from({ length: contenders + 1 }, () =>
    spawn('bash', [path.join(dir, 'contender.sh')], { stdio: 'ignore', env, detached: true }));
  const kinds = Array.from({ length: cycles }, () => KINDS.slice(0, kindCount)).flat();
  let read = 0;
  try {
    for (const kind of kinds) {
      const entered = await journalLine(journal, read, (line) => line.startsWith('enter '), 'command entering');
      const [, job, wrapper] = entered.line.split(' ').map(Number);
      read = entered.index + 1;
      if (FORWARDED_SIGNALS.includes(kind)) {
        process.kill(wrapper, kind);
        const got = await journalLine(journal, read, (line) => line === `got ${kind.slice(3)} ${job}`, `${kind} reaching ${job}`);
        check(alive(wrapper), `pidguard ${wrapper} died of ${kind}, which it passes on`);
        read = got.index + 1;
      } else {
        if (kind === 'throw') fs.writeFileSync(path.join(faults, 'throw'), '');
        else process.kill(wrapper, kind);
        await until(() => !alive(wrapper), `pidguard ${wrapper} did not die of ${kind}`);
        if (kind === 'throw') fs.rmSync(path.join(faults, 'throw'));
      }
      // As many refusals again as there are contenders, while the command runs on.
      const refused = () => readJournal(journal).slice(read).filter((line) => line === 'exit 75').length;
      const target = refused() + contenders;
      await until(() => refused() >= target, `${contenders} more refusals after ${kind}`);
      const named = fs.readFileSync(pidfile, 'utf8');
      check(named === `${job}\n`, `after ${kind}: the file names ${JSON.stringify(named)}, not the command ${job}`);
      if (mode === 'kernel') check(spawnSync('flock', ['--nonblock', pidfile, 'true']).status !== 0, `after ${kind}: the lock is free`);
      fs.writeFileSync(path.join(dir, `release.${job}`), '');
      read = (await journalLine(journal, read, (line) => line === `leave ${job}`, `${job} leaving`)).index + 1;
    }
    // Stop the contenders, releasing whatever command one of them starts meanwhile.
    fs.writeFileSync(path.join(dir, 'stop'), '');
    const ended = Promise.all(loops.map((loop) => new Promise((resolve) => loop.once('exit', resolve))));
    let done = false;
    ended.then(() => (done = true));
    while (!done) {
      for (const line of readJournal(journal)) {
        if (line.startsWith('enter ')) fs.writeFileSync(path.join(dir, `release.${line.split(' ')[1]}`), '');
      }
      await sleep(20);
    }
    return { rounds: kinds.length, ...checkWrapperJournal(readJournal(journal)) };
  } finally {
    fs.writeFileSync(path.join(dir, 'stop'), '');
    for (const loop of loops) {
      try {
        process.kill(-loop.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // Commands whose pidguard was killed are in no contender's process group.
    for (const line of readJournal(journal)) {
      if (!line.startsWith('enter ')) continue;
      try {
        process.kill(Number(line.split(' ')[1]), 'SIGKILL');
      } catch {
        // gone
      }
    }
    cleanup();
  }
}
