/*
 * Windows has no child.h: `pidguard run` starts its command with Node's spawn there (no
 * real-time signals to lose, and no descriptor for the command to inherit), so the addon
 * exports no spawnChild and src/cli/command.ts takes Node's path.
 */
#include "exports.h"

napi_value init_child(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}
