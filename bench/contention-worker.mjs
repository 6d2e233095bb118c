// One of the processes contending for one lock: after "go" on stdin, takes the lock `count`
// times with the named library, waiting as long as it takes, and releases it at once each time.
// Prints the wait of every acquisition in ms, as JSON.
import readline from 'node:readline';
import { peers } from './peers.mjs';

const [name, file, countText] = process.argv.slice(2);
const peer = peers[name];
const count = Number(countText);
const input = readline.createInterface({ input: process.stdin });
process.stdout.write('ready\n');
input.once('line', async () => {
  input.close();
  const waits = [];
  for (let i = 0; i < count; i += 1) {
    const started = process.hrtime.bigint();
    const release = await peer.wait(file);
    waits.push(Number(process.hrtime.bigint() - started) / 1e6);
    await release();
  }
  process.stdout.write(`${JSON.stringify(waits)}\n`);
});
