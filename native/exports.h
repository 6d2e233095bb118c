/*
 * The parts of the addon's exports that live in files of their own, each registered by
 * binding.c's module initialisation: the waits (wait.c) and `pidguard run`'s command
 * (child_binding.c, or child_win32.c where there is none).
 */
#ifndef PIDGUARD_EXPORTS_H
#define PIDGUARD_EXPORTS_H

#include "napi.h"

/* Registers wait.c's functions on `exports`; NULL on failure. */
napi_value init_wait(napi_env env, napi_value exports);

/* Registers child_binding.c's functions on `exports` (none on Windows); NULL on failure. */
napi_value init_child(napi_env env, napi_value exports);

#endif
