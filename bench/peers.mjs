// The same lock operations through pidguard and through its peers, behind one small interface,
// so that each benchmark row runs the same driver. Peers are devDependencies only.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { acquire, acquireSync } from 'pidguard';

const require = createRequire(import.meta.url);
const fsx = require('fs-native-extensions');
const properLockfile = require('proper-lockfile');

function fsxRelease(fd) {
  return () => {
    fsx.unlock(fd);
    fs.closeSync(fd);
  };
}

function properLockfilePeer(retries, rounds) {
  return {
    hold(file) {
      fs.closeSync(fs.openSync(file, 'a'));
      return properLockfile.lockSync(file);
    },
    wait: (file) => properLockfile.lock(file, { retries }),
    blocksInKernel: false, // it polls
    rounds,
  };
}

/** hold(file) takes the lock at once and returns release(); wait(file, signal?) waits for it. */
export const peers = {
  pidguard: {
    hold(file) {
      const lock = acquireSync(file);
      return () => lock.release();
    },
    async wait(file, signal) {
      const lock = await acquire(file, { wait: true, signal });
      return () => lock.release();
    },
    blocksInKernel: true,
  },
  'fs-native-extensions': {
    hold(file) {
      const fd = fs.openSync(file, 'a+');
      if (!fsx.tryLock(fd)) throw new Error('fs-native-extensions: lock not free');
      return fsxRelease(fd);
    },
    async wait(file) {
      const fd = fs.openSync(file, 'a+');
      await fsx.waitForLock(fd);
      return fsxRelease(fd);
    },
    blocksInKernel: true,
  },
  'proper-lockfile (retries 1000, 1-10 ms)': properLockfilePeer({ retries: 1000, minTimeout: 1, maxTimeout: 10 }),
  // Each handoff takes about a second: a few rounds tell enough.
  'proper-lockfile (retries: 10)': properLockfilePeer(10, 8),
};
