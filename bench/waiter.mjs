// The waiting side of the handoff and crash-recovery benchmarks: for each "go" line on stdin,
// wait for the lock with the named library, print "waiting" when the wait has begun and the
// monotonic clock (process.hrtime, one clock for every process on the machine) the moment it
// holds; then release it.
import readline from 'node:readline';
import { peers } from './peers.mjs';

const [name, file] = process.argv.slice(2);
const peer = peers[name];
process.stdout.write('ready\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line !== 'go') break;
  const waiting = peer.wait(file);
  process.stdout.write('waiting\n');
  const release = await waiting;
  const heldAt = process.hrtime.bigint();
  await release();
  process.stdout.write(`${heldAt}\n`);
}
