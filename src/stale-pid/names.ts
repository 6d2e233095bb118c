// The names the stale-PID fallback gives the files it makes beside a PID file, and what a name
// tells of its maker. Pure.
import path from 'node:path';
import type { World } from './world';

/**
 * A version of the PID file: which file it is (the device and the time it was written, not the
 * inode number, which FUSE file systems may renumber while a file is in use) and what it holds.
 * Nobody writes to a PID file once placed, so a version is never changed in place: it is replaced.
 */
export interface Version {
  dev: bigint;
  mtimeMs: number;
  /** The PID it holds, or what else it holds. */
  holds: number | 'empty' | 'other';
}

export const sameVersion = (a: Version, b: Version): boolean =>
  a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.holds === b.holds;

/**
 * The PID file's name as it starts the names of the files made beside it. Those add up to some
 * 110 bytes (a host name of up to 64, a PID, random characters, a claim's version), and a name may
 * have 255: a longer name is cut short and given a digest of the whole, the same for every process.
 */
const STEM_BYTES = 120;

function stem(file: string): string {
  const base = path.basename(file);
  if (Buffer.byteLength(base) <= STEM_BYTES) return base;
  const digest = (require('node:crypto') as typeof import('node:crypto'))
    .createHash('sha256')
    .update(base)
    .digest('hex')
    .slice(0, 16);
  let cut = base;
  while (Buffer.byteLength(cut) > STEM_BYTES - digest.length - 1) cut = cut.slice(0, -1);
  return `${cut}~${digest}`;
}

/**
 * A new name for a draft or a tombstone: host and PID, so that the drafts a process of this host
 * left when it died can be told and removed, and random characters, so that nobody can create
 * the name first (another user could make us fail, or hand us a file of theirs).
 */
export function privateName(file: string, world: World): string {
  return path.join(
    path.dirname(file),
    `.${stem(file)}.${world.hostname()}.${world.pid}.${world.randomName()}.pidguard`,
  );
}

/** The PID of the process of this host that made the private name `name`, or null when it is not one. */
export function privateNameOwner(file: string, name: string, world: World): number | null {
  const prefix = `.${stem(file)}.${world.hostname()}.`;
  if (!name.startsWith(prefix) || !name.endsWith('.pidguard')) return null;
  const pid = Number(name.slice(prefix.length).split('.')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

const versionText = (version: Version): string =>
  `${version.dev}-${Math.round(version.mtimeMs * 1000)}-${version.holds}`;

/**
 * The name of the `level`th claim on one version of the PID file. Every process that means to
 * change that version makes the same name, so link(2), which fails when the name exists, lets one
 * of them have it.
 */
export function claimPath(file: string, version: Version, level: number): string {
  return path.join(path.dirname(file), `.${stem(file)}.claim.${versionText(version)}.${level}`);
}

/** Whether `name` is a claim on a version of `file` other than `version`. */
export function isClaimOnOtherVersion(file: string, name: string, version: Version): boolean {
  const prefix = `.${stem(file)}.claim.`;
  return name.startsWith(prefix) && !name.startsWith(`${prefix}${versionText(version)}.`);
}
