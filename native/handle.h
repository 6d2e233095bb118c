/*
 * A held lock's JavaScript handle: made by binding.c for a lock taken at once and by wait.c for
 * one a wait was granted.
 */
#ifndef PIDGUARD_HANDLE_H
#define PIDGUARD_HANDLE_H

#include "napi.h"

/* A JavaScript handle for a held lock. Takes ownership of `path` (malloc'ed) and, on failure,
 * gives the lock up and returns NULL with an exception pending. */
napi_value wrap_handle(napi_env env, pg_handle handle, char *path, int flags);

#endif
