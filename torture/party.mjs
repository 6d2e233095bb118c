// A process that takes part in the fallback's torture scenarios: one JSON command per stdin line,
// one JSON answer per stdout line. acquire (with `held`, so that a failOpen handle that holds
// nothing shows), record (recordPid, as `pidguard run` does), verify, release.
import readline from 'node:readline';
import { acquire } from 'pidguard';

let lock = null;
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

const operations = {
  async acquire({ path, options }) {
    try {
      lock = await acquire(path, options);
      return { ok: true, held: lock.held };
    } catch (error) {
      return { ok: false, code: error.code, pid: error.pid ?? null, message: error.message };
    }
  },
  record({ pid }) {
    lock.recordPid(pid);
    return { ok: true };
  },
  verify: () => ({ ok: true, verify: lock.verify() }),
  release() {
    lock.release();
    return { ok: true };
  },
};

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const command = JSON.parse(line);
  say(await operations[command.op](command));
});
say({ ready: true, pid: process.pid });
