/*
 * The Node-API surface of pidguard. It converts arguments, calls the platform core
 * (pidguard.h) and turns its results into values or thrown errors; it decides nothing.
 *
 *   lock(path: string, flags: number, text: string | null): External | null   (null: contended)
 *   unlock(handle: External, remove: boolean): void        (throws after closing, on failure)
 *   probe(path: string): 0 | 1 | 2                         (missing, unlocked, locked)
 *   locksSupported(path: string): boolean                  (asked without taking a lock)
 *   openToRead(path: string): number                       (a descriptor to read; POSIX only)
 *   rewrite(handle: External, text: string): void           (replaces a held PID file's text)
 *   descriptor(handle: External): number                    (the POSIX descriptor, or -1)
 *   verify(handle: External): boolean                       (the path still names the held file)
 *   keepAtExit(handle: External, keep: boolean): void       (another process shares it: leave it at exit)
 *   releaseAll(): void                                      (at process exit: every environment's locks)
 *   processStartTime(pid: number): number | null           (ms since 1970; null where not told)
 *   (and the waiting calls of wait.c)
 *
 * The module is context-aware (NAPI_MODULE_INIT), so worker threads can load it. A handle is an
 * External over a held_lock (held.c) whose finalizer gives up a lock still held when its
 * environment is torn down (the JavaScript side keeps every held handle reachable until release,
 * so that is the only time it runs on a held lock): a terminated worker leaves no descriptor, no
 * lock and no PID file behind.
 */
#include "binding.h"
#include "held.h"
#include "thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void throw_napi_failure(napi_env env, napi_status status) {
  const napi_extended_error_info *info = NULL;
  bool pending = false;
  const char *message = "Node-API call failed";
  (void)status;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL && info->error_message != NULL) {
    message = info->error_message;
  }
  napi_throw_error(env, "ERR_PIDGUARD_NAPI", message);
}

int get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage) {
  size_t argc = count;
  napi_status status = napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (status != napi_ok) {
    throw_napi_failure(env, status);
    return 0;
  }
  if (argc < count) {
    char message[160];
    snprintf(message, sizeof(message), "%s takes %u argument%s", usage, (unsigned)count, count == 1 ? "" : "s");
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return 0;
  }
  return 1;
}

static void finalize_held_lock(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  held_free((held_lock *)data);
}

napi_value result_error(napi_env env, pg_result result) {
  char description[256];
  napi_value error, code, message, syscall, errnum;

  pg_error_message(result.err, description, sizeof(description));
  NAPI_CALL(env, napi_create_string_utf8(env, pg_error_code(result.err), NAPI_AUTO_LENGTH, &code));
  NAPI_CALL(env, napi_create_string_utf8(env, description, NAPI_AUTO_LENGTH, &message));
  NAPI_CALL(env, napi_create_error(env, code, message, &error));
  NAPI_CALL(env, napi_create_string_utf8(env, result.syscall ? result.syscall : "", NAPI_AUTO_LENGTH, &syscall));
  NAPI_CALL(env, napi_set_named_property(env, error, "syscall", syscall));
  NAPI_CALL(env, napi_create_int32(env, result.err, &errnum));
  NAPI_CALL(env, napi_set_named_property(env, error, "errno", errnum));
  return error;
}

/* Throws the error of a failed core call; returns NULL for the caller to return. */
static napi_value throw_result(napi_env env, pg_result result) {
  napi_value error = result_error(env, result);
  if (error != NULL) napi_throw(env, error);
  return NULL;
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

/* The TypeScript layer has already refused strings holding NUL. */
char *utf8_copy(napi_env env, napi_value value) {
  size_t length = 0;
  char *buffer;
  napi_status status = napi_get_value_string_utf8(env, value, NULL, 0, &length);
  if (status != napi_ok) {
    throw_napi_failure(env, status);
    return NULL;
  }
  buffer = (char *)malloc(length + 1);
  if (buffer == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  status = napi_get_value_string_utf8(env, value, buffer, length + 1, &length);
  if (status != napi_ok) {
    free(buffer);
    throw_napi_failure(env, status);
    return NULL;
  }
  return buffer;
}

int optional_utf8_copy(napi_env env, napi_value value, char **out) {
  napi_valuetype type;
  *out = NULL;
  if (napi_typeof(env, value, &type) != napi_ok) {
    throw_napi_failure(env, napi_generic_failure);
    return 0;
  }
  if (type == napi_undefined || type == napi_null) return 1;
  *out = utf8_copy(env, value);
  return *out != NULL;
}

static napi_value lock_file(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int32_t flags = 0;
  char *path = NULL, *text = NULL;
  pg_handle handle;
  pg_result outcome;

  if (!get_args(env, info, 3, argv, "lock(path, flags, text)")) return NULL;
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &flags));
  path = utf8_copy(env, argv[0]);
  if (path == NULL) return NULL;
  if (!optional_utf8_copy(env, argv[2], &text)) {
    free(path);
    return NULL;
  }

  outcome = pg_lock(path, flags, text, text ? strlen(text) : 0, &handle);
  free(text);

  if (outcome.err == PG_ELOCKED) {
    free(path);
    NAPI_CALL(env, napi_get_null(env, &result));
    return result;
  }
  if (outcome.err != 0) {
    free(path);
    return throw_result(env, outcome);
  }

  return wrap_handle(env, handle, path, flags); /* path is the handle's from here on */
}

/* The held_lock behind a handle argument; NULL with an exception pending. */
static held_lock *held_arg(napi_env env, napi_value value) {
  void *data = NULL;
  NAPI_CALL(env, napi_get_value_external(env, value, &data));
  return (held_lock *)data;
}

/* Throws for a failed call on a held lock; a released one is ERR_PIDGUARD_RELEASED. */
static napi_value throw_held_result(napi_env env, pg_result result) {
  if (result.err == PG_ERELEASED) {
    napi_throw_error(env, "ERR_PIDGUARD_RELEASED", "the lock has been released");
    return NULL;
  }
  return throw_result(env, result);
}

static napi_value unlock_file(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool remove = false;
  held_lock *held;
  pg_result outcome;

  if (!get_args(env, info, 2, argv, "unlock(handle, remove)")) return NULL;
  held = held_arg(env, argv[0]);
  if (held == NULL) return NULL;
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &remove));
  outcome = held_release(held, remove);
  /* Already released: releasing is idempotent. */
  if (outcome.err != 0 && outcome.err != PG_ERELEASED) return throw_result(env, outcome);
  return NULL;
}

static napi_value rewrite_file(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  held_lock *held;
  char *text;
  pg_result outcome;

  if (!get_args(env, info, 2, argv, "rewrite(handle, text)")) return NULL;
  held = held_arg(env, argv[0]);
  if (held == NULL) return NULL;
  text = utf8_copy(env, argv[1]);
  if (text == NULL) return NULL;
  outcome = held_rewrite(held, text, strlen(text));
  free(text);
  if (outcome.err != 0) return throw_held_result(env, outcome);
  return NULL;
}

static napi_value descriptor_of(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  held_lock *held;
  pg_result outcome;
  int descriptor = -1;

  if (!get_args(env, info, 1, argv, "descriptor(handle)")) return NULL;
  held = held_arg(env, argv[0]);
  if (held == NULL) return NULL;
  outcome = held_descriptor(held, &descriptor);
  if (outcome.err != 0) return throw_held_result(env, outcome);
  NAPI_CALL(env, napi_create_int32(env, descriptor, &result));
  return result;
}

static napi_value verify_lock(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  held_lock *held;
  pg_result outcome;
  int names = 0;

  if (!get_args(env, info, 1, argv, "verify(handle)")) return NULL;
  held = held_arg(env, argv[0]);
  if (held == NULL) return NULL;
  outcome = held_verify(held, &names);
  if (outcome.err != 0) return throw_held_result(env, outcome);
  NAPI_CALL(env, napi_get_boolean(env, names == 1, &result));
  return result;
}

static napi_value keep_at_exit(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  held_lock *held;
  bool keep = false;
  pg_result outcome;

  if (!get_args(env, info, 2, argv, "keepAtExit(handle, keep)")) return NULL;
  held = held_arg(env, argv[0]);
  if (held == NULL) return NULL;
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &keep));
  outcome = held_keep_at_exit(held, keep);
  if (outcome.err != 0) return throw_held_result(env, outcome);
  return NULL;
}

static napi_value release_all(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  held_release_all();
  return NULL;
}

static napi_value process_start_time(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int32_t pid = 0;
  double started_ms = 0;

  if (!get_args(env, info, 1, argv, "processStartTime(pid)")) return NULL;
  if (napi_get_value_int32(env, argv[0], &pid) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pid must be a number");
    return NULL;
  }
  /* Gone, hidden or not told: all mean "unknown" to the caller. */
  if (pg_process_start_time(pid, &started_ms) != 0) {
    NAPI_CALL(env, napi_get_null(env, &result));
    return result;
  }
  NAPI_CALL(env, napi_create_double(env, started_ms, &result));
  return result;
}

static napi_value probe_file(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char *path;
  pg_probe_state state = PG_PROBE_MISSING;
  pg_result outcome;

  if (!get_args(env, info, 1, argv, "probe(path)")) return NULL;
  path = utf8_copy(env, argv[0]);
  if (path == NULL) return NULL;
  outcome = pg_probe(path, &state);
  free(path);
  if (outcome.err != 0) return throw_result(env, outcome);
  NAPI_CALL(env, napi_create_int32(env, (int32_t)state, &result));
  return result;
}

static napi_value open_to_read(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char *path;
  int fd = -1;
  pg_result outcome;

  if (!get_args(env, info, 1, argv, "openToRead(path)")) return NULL;
  path = utf8_copy(env, argv[0]);
  if (path == NULL) return NULL;
  outcome = pg_open_to_read(path, &fd);
  free(path);
  if (outcome.err != 0) return throw_result(env, outcome);
  NAPI_CALL(env, napi_create_int32(env, fd, &result));
  return result;
}

static napi_value locks_supported(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char *path;
  int supported = 0;
  pg_result outcome;

  if (!get_args(env, info, 1, argv, "locksSupported(path)")) return NULL;
  path = utf8_copy(env, argv[0]);
  if (path == NULL) return NULL;
  outcome = pg_locks_supported(path, &supported);
  free(path);
  if (outcome.err != 0) return throw_result(env, outcome);
  NAPI_CALL(env, napi_get_boolean(env, supported != 0, &result));
  return result;
}

napi_value export_function(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value fn;
  NAPI_CALL(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &fn));
  NAPI_CALL(env, napi_set_named_property(env, exports, name, fn));
  return exports;
}

static napi_value export_int(napi_env env, napi_value exports, const char *name, int32_t value) {
  napi_value number;
  NAPI_CALL(env, napi_create_int32(env, value, &number));
  NAPI_CALL(env, napi_set_named_property(env, exports, name, number));
  return exports;
}

NAPI_MODULE_INIT() {
  /* Threads of ours can outlive the environment that started them (a wait left to its thread
   * when it could not be interrupted): the addon must stay mapped under them. */
  if (pg_stay_loaded() != 0) {
    napi_throw_error(env, "ERR_PIDGUARD_NATIVE", "could not keep the addon loaded for its threads");
    return NULL;
  }
  if (export_function(env, exports, "lock", lock_file) == NULL) return NULL;
  if (export_function(env, exports, "unlock", unlock_file) == NULL) return NULL;
  if (export_function(env, exports, "probe", probe_file) == NULL) return NULL;
  if (export_function(env, exports, "rewrite", rewrite_file) == NULL) return NULL;
  if (export_function(env, exports, "descriptor", descriptor_of) == NULL) return NULL;
  if (export_function(env, exports, "verify", verify_lock) == NULL) return NULL;
  if (export_function(env, exports, "keepAtExit", keep_at_exit) == NULL) return NULL;
  if (export_function(env, exports, "releaseAll", release_all) == NULL) return NULL;
  if (export_function(env, exports, "processStartTime", process_start_time) == NULL) return NULL;
  if (export_function(env, exports, "locksSupported", locks_supported) == NULL) return NULL;
  if (export_function(env, exports, "openToRead", open_to_read) == NULL) return NULL;
  if (export_int(env, exports, "SHARED", PG_SHARED) == NULL) return NULL;
  if (export_int(env, exports, "CREATE", PG_CREATE) == NULL) return NULL;
  if (export_int(env, exports, "PIDFILE", PG_PIDFILE) == NULL) return NULL;
  if (export_int(env, exports, "MKDIR", PG_MKDIR) == NULL) return NULL;
  if (init_child(env, exports) == NULL) return NULL;
  return init_wait(env, exports);
}
