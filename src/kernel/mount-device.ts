// The device of the mount an open file is on, as /proc/locks prints it (Linux): found by the
// descriptor's mount id (its fdinfo) in /proc/self/mountinfo. stat's device is not always the
// one the kernel's lock listings use: a btrfs subvolume's files have an anonymous device each.
import fs from 'node:fs';
import { fdinfoMountId, mountDevice } from './proc-fdinfo';

const linux = process.platform === 'linux';

function readSync(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return null; // no /proc: the lookup by stat's device is all there is
  }
}

/**
 * The device of the mount that open descriptor `fd` of this process is on; null where not told.
 * Read synchronously even for the async readers: /proc's texts are made by the kernel from memory
 * and never wait on a disk or a network, and through libuv's threadpool each would cost several
 * round trips.
 */
export function mountDeviceOf(fd: number): string | null {
  if (!linux) return null;
  const info = readSync(`/proc/self/fdinfo/${fd}`);
  const id = info === null ? null : fdinfoMountId(info);
  const mounts = id === null ? null : readSync('/proc/self/mountinfo');
  return id === null || mounts === null ? null : mountDevice(mounts, id);
}
