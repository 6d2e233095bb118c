// node-gyp-build ships no types; this is the one call pidguard makes.
declare module 'node-gyp-build' {
  /** Loads the addon of the package at `root`: a prebuild for this platform, else build/Release. */
  function load(root: string): unknown;
  export = load;
}
