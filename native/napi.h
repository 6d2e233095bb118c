/*
 * The Node-API helpers shared by the binding files (binding.c, wait.c, child_binding.c):
 * checking every napi_status, converting strings, and turning core results into errors.
 */
#ifndef PIDGUARD_NAPI_H
#define PIDGUARD_NAPI_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include "pidguard.h"

/* Checks a napi_status; on failure throws (unless an exception is already pending) and returns
 * NULL from the calling function. */
#define NAPI_CALL(env, call)                     \
  do {                                           \
    napi_status status_ = (call);                \
    if (status_ != napi_ok) {                    \
      throw_napi_failure((env), status_);        \
      return NULL;                               \
    }                                            \
  } while (0)

void throw_napi_failure(napi_env env, napi_status status);

/* Fills argv with the call's first `count` arguments; 0, with a TypeError naming `usage` pending,
 * when fewer were passed. */
int get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage);

/* A new NUL-terminated UTF-8 copy of a JS string (free() it); NULL with an exception pending. */
char *utf8_copy(napi_env env, napi_value value);

/* utf8_copy for an optional string: undefined and null give *out == NULL. 0 on failure. */
int optional_utf8_copy(napi_env env, napi_value value, char **out);

/* An Error with code, errno and syscall for a failed core call (not thrown); NULL on failure. */
napi_value result_error(napi_env env, pg_result result);

/* Throws the error of a failed core call; returns NULL for the caller to return. */
napi_value throw_result(napi_env env, pg_result result);

/* Sets exports[name] to a new function; NULL on failure. */
napi_value export_function(napi_env env, napi_value exports, const char *name, napi_callback callback);

/* Sets exports[name] to a number; NULL on failure. */
napi_value export_int(napi_env env, napi_value exports, const char *name, int32_t value);

#endif
