// Why the addon could not be loaded, said so that the reader knows what to do. Pure.
//
// pidguard never falls back to the stale-PID fallback because its addon is missing: a fallback
// holder and a kernel holder of one PID file do not see each other, so a bundled copy and an
// installed one would both run. Each common cause gets its own remedy.

export interface LoadFacts {
  /** The failure, as the loader threw it. */
  cause: unknown;
  /** pidguard's code is not in its package (bundled): no package.json of pidguard's beside it. */
  bundled: boolean;
  /** Running in Deno. */
  deno: boolean;
  platform: string;
  arch: string;
}

const message = (cause: unknown): string =>
  (cause instanceof Error ? cause.message : String(cause)).trim().split('\n')[0] ?? '';

const deniedByDeno = (cause: unknown): boolean => {
  const name = cause instanceof Error ? cause.name : '';
  return (
    name === 'NotCapable' || name === 'PermissionDenied' || /--allow-(ffi|env)|(ffi|env) access/i.test(message(cause))
  );
};

/** The message of the ERR_PIDGUARD_NATIVE error for a failed load. */
export function addonLoadMessage({ cause, bundled, deno, platform, arch }: LoadFacts): string {
  const why = message(cause);
  const lead = 'pidguard: its native addon could not be loaded, and pidguard will not take a weaker lock in its place';
  if (deno && deniedByDeno(cause)) {
    return (
      `${lead}: Deno refused (${why}). Loading it needs --allow-ffi (the addon is native code); ` +
      'the PID files need --allow-read and --allow-write'
    );
  }
  if (bundled) {
    return (
      `${lead}: pidguard seems to be bundled (${why}). Mark it external (esbuild --external:pidguard, ` +
      "webpack's externals, rollup's external) so that it loads from node_modules, or copy its addon beside the bundle " +
      `as pidguard.node (from node_modules/pidguard/prebuilds/${platform}-${arch}/ or build/Release/)`
    );
  }
  if (/No native build was found/.test(why)) {
    return (
      `${lead}: there is no prebuilt addon for ${platform}-${arch} and none was compiled at install ` +
      '(no C compiler then, or npm install --ignore-scripts). Install a C compiler, make and python3, ' +
      'then run: npm rebuild pidguard'
    );
  }
  return `${lead}: ${why}. Reinstall it for this platform (npm rebuild pidguard)`;
}
