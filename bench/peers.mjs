// The same lock operations through pidguard and through its peers, behind one small interface,
// so that each benchmark row runs the same driver. Peers are devDependencies only.
//   hold(file):  takes the lock at once; returns release()
//   wait(file):  waits for the lock; resolves to release()
//   blocksInKernel: whether a waiter sleeps in the kernel (true) or polls (false)
//   waitsOnThreadpool: whether a waiter sleeps on one of libuv's threadpool threads
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { acquire, acquireSync } from 'pidguard';

const require = createRequire(import.meta.url);
const fsx = require('fs-native-extensions');
const fsExt = require('fs-ext');
const properLockfile = require('proper-lockfile');
const lockfile = require('lockfile');

function closing(fd, unlock) {
  return () => {
    unlock(fd);
    fs.closeSync(fd);
  };
}

function properLockfilePeer(options) {
  return {
    hold(file) {
      return properLockfile.lockSync(file, { realpath: false });
    },
    wait: (file) => properLockfile.lock(file, { realpath: false, ...options }),
    blocksInKernel: false,
  };
}

function lockfilePeer(options) {
  return {
    hold(file) {
      lockfile.lockSync(file);
      return () => lockfile.unlockSync(file);
    },
    wait: (file) => new Promise((resolve, reject) => {
      lockfile.lock(file, options, (error) => (error ? reject(error) : resolve(() => lockfile.unlockSync(file))));
    }),
    blocksInKernel: false,
  };
}

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
      return closing(fd, (held) => fsx.unlock(held));
    },
    async wait(file) {
      const fd = fs.openSync(file, 'a+');
      await fsx.waitForLock(fd);
      return closing(fd, (held) => fsx.unlock(held));
    },
    blocksInKernel: true,
  },
  'fs-ext': {
    hold(file) {
      const fd = fs.openSync(file, 'a+');
      fsExt.flockSync(fd, 'exnb');
      return closing(fd, (held) => fsExt.flockSync(held, 'un'));
    },
    // A blocking flock on a libuv threadpool thread.
    wait(file) {
      const fd = fs.openSync(file, 'a+');
      return new Promise((resolve, reject) => {
        fsExt.flock(fd, 'ex', (error) => (error ? reject(error) : resolve(closing(fd, (held) => fsExt.flockSync(held, 'un')))));
      });
    },
    blocksInKernel: true,
    waitsOnThreadpool: true,
  },
  'proper-lockfile (retries 1000, 1-10 ms)': properLockfilePeer({ retries: { retries: 1000, minTimeout: 1, maxTimeout: 10 } }),
  'proper-lockfile (retries: 10)': properLockfilePeer({ retries: 10 }),
  // Stale after proper-lockfile's default 10 s, retrying long enough to see it.
  'proper-lockfile (defaults, stale 10 s)': properLockfilePeer({ retries: { retries: 100, minTimeout: 100, maxTimeout: 1000 } }),
  'lockfile (wait 60 s)': lockfilePeer({ wait: 60_000 }),
  'lockfile (wait 60 s, stale 10 s)': lockfilePeer({ wait: 60_000, stale: 10_000 }),
};
