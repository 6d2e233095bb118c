// The waiting side of the fleet handoff and crash-recovery benchmarks: for each "go" line, wait
// for the lock with the named peer, print "waiting" once the wait is under way, and the monotonic
// clock (process.hrtime, one clock for every process on the machine) the moment it holds; then
// release it. Usage: fleet-waiter.mjs <peer> <url> <lock name>
import readline from 'node:readline';
import { fleetPeers } from './fleet-peers.mjs';

const [peerName, url, name] = process.argv.slice(2);
const peer = fleetPeers[peerName];
process.stdout.write('ready\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line !== 'go') break;
  const wait = await peer.waiter(url, name);
  const waiting = wait();
  process.stdout.write('waiting\n');
  const release = await waiting;
  const heldAt = process.hrtime.bigint();
  await release();
  process.stdout.write(`${heldAt}\n`);
}
process.exit(0);
