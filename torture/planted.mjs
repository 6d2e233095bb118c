// Names planted by another user. In a sticky, world-writable directory (as /tmp is), before each
// round, `nobody` plants what anyone who can stat the stale PID file can work out: the claims on
// its version (this scheme's and the one before it, levels 1 to 8, holding PID 1, always alive),
// and files under the draft names the acquirers would draw were those predictable (host, PID and
// a counter). Then `processes` processes try for the stale file at once, with failOpen. Exactly
// one holds it for real, every other is refused naming it, none gets a handle that holds nothing,
// and every planted file is left as it was.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startParty } from './fallback-parties.mjs';
import { check, scratch } from './lib.mjs';

const NOBODY = 65534;
const PLANTED = 'planted by nobody\n';

function unavailable() {
  if (process.platform !== 'linux' || process.getuid() !== 0) return 'needs root, to act as nobody through setpriv';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'no setpriv (util-linux; .ci/run installs it)';
  return null;
}

function plantAsNobody(files) {
  const script = "for (const f of process.argv.slice(1)) require('fs').writeFileSync(f, process.env.TEXT)";
  const result = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', script, ...files],
    { env: { ...process.env, TEXT: PLANTED }, encoding: 'utf8' });
  check(result.status === 0, `planting as nobody failed: ${result.stderr}`);
}

const deadPid = () => Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout);

/** What can be worked out from the stale file's stat: its claims' names, in both schemes. */
function claimNames(file, pid) {
  const stat = fs.statSync(file, { bigint: true });
  const micros = Math.round((Number(stat.mtimeNs) / 1e6) * 1000);
  const base = path.basename(file);
  return Array.from({ length: 8 }, (_, i) => [
    `.${base}.claim.${stat.dev}-${micros}-${pid}.${i + 1}`,
    `.${base}.takeover.${stat.dev}-${stat.ino}-${micros}.${i + 1}`,
  ]).flat();
}

export async function planted({ processes, rounds }) {
  const reason = unavailable();
  if (reason !== null) return { skipped: reason };
  const { dir, cleanup } = scratch('planted');
  fs.chmodSync(dir, 0o1777);
  const file = path.join(dir, 'app.pid');
  const parties = [];
  let plantedFiles = 0;
  try {
    for (let i = 0; i < processes; i += 1) parties.push(await startParty());
    for (let round = 1; round <= rounds; round += 1) {
      const dead = deadPid();
      fs.writeFileSync(file, `${dead}\n`);
      const names = [
        ...claimNames(file, dead),
        ...parties.flatMap((party) => Array.from({ length: 16 }, (_, n) => `.${path.basename(file)}.${os.hostname()}.${party.pid}.${n + 1}.pidguard`)),
      ].map((name) => path.join(dir, name));
      plantAsNobody(names);
      plantedFiles += names.length;
      const answers = await Promise.all(parties.map((party) => party.send({ op: 'acquire', path: file, options: { mode: 'pidfile', failOpen: true } })));
      const unheld = answers.filter((answer) => answer.ok && !answer.held);
      check(unheld.length === 0, `round ${round}: ${unheld.length} acquirers got a handle that holds nothing (failOpen)`);
      const winners = parties.filter((_, i) => answers[i].ok);
      check(winners.length === 1, `round ${round}: ${winners.length} holders: ${JSON.stringify(answers)}`);
      const [winner] = winners;
      for (const answer of answers.filter((a) => !a.ok)) {
        check(answer.code === 'ELOCKED' && answer.pid === winner.pid, `round ${round}: a loser was told ${answer.message}`);
      }
      check(fs.readFileSync(file, 'utf8') === `${winner.pid}\n`, `round ${round}: the file does not name the holder`);
      await winner.send({ op: 'release' });
      for (const name of names) {
        const stat = fs.statSync(name, { throwIfNoEntry: false });
        check(stat !== undefined && stat.uid === NOBODY && fs.readFileSync(name, 'utf8') === PLANTED, `round ${round}: ${name} was touched`);
        fs.rmSync(name);
      }
      check(fs.readdirSync(dir).length === 0, `round ${round}: left ${fs.readdirSync(dir).join(', ')}`);
    }
    return { rounds, processes, plantedFiles };
  } finally {
    for (const party of parties) party.kill();
    await Promise.all(parties.map((party) => party.exited));
    cleanup();
  }
}
