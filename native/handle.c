/*
 * A held lock as JavaScript sees it (handle.h): an External over the process-wide list's entry
 * (held.c), whose finalizer gives the lock up if it is still held when its environment is torn
 * down.
 */
#include "handle.h"

#include "held.h"

static void finalize_held_lock(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  held_free((held_lock *)data);
}

napi_value wrap_handle(napi_env env, pg_handle handle, char *path, int flags) {
  napi_value result;
  held_lock *held = held_add(handle, path, (flags & PG_PIDFILE) != 0);
  if (held == NULL) {
    if (held_exiting()) napi_throw_error(env, "ECANCELED", "the process is exiting: the lock was given up");
    else napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (napi_create_external(env, held, finalize_held_lock, NULL, &result) != napi_ok) {
    /* Nobody will receive this lock (the environment may be being torn down): give it up as
     * teardown would, removing the PID file it wrote. */
    held_free(held);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}
