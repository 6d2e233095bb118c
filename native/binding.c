/*
 * The Node-API surface of pidguard. It converts arguments, calls the platform core
 * (pidguard.h) and turns its results into values or thrown errors; it decides nothing.
 *
 *   lock(path: string, flags: number, text: string | null): External | null   (null: contended)
 *   unlock(handle: External, remove: boolean): void        (throws after closing, on failure)
 *   probe(path: string): 0 | 1 | 2                         (missing, unlocked, locked)
 *   locksSupported(path: string): boolean                  (asked without taking a lock)
 *   openToRead(path: string): number                       (a descriptor to read; POSIX only)
 *   readOpened(fd: number, size: number): {bytes, dev, ino, mode, uid, gid, nlink, mtimeNs}
 *   openProcess(pid: number): number                       (a pidfd: Linux only)
 *   signalProcess(fd: number, signal: number): void         (through openProcess's pidfd)
 *   closeDescriptor(fd: number): void                        (openToRead's or openProcess's)
 *   rewrite(handle: External, text: string): void           (replaces a held PID file's text)
 *   descriptor(handle: External): number                    (the POSIX descriptor, or -1)
 *   verify(handle: External): boolean                       (the path still names the held file)
 *   keepAtExit(handle: External, keep: boolean): void       (another process shares it: leave it at exit)
 *   releaseAll(): void                                      (at process exit: every environment's locks)
 *   softHold(path): External, softRelease(hold), softHeld(path): number
 *                                                           (the fallback's holds, across environments)
 *   processStartTime(pid: number): number | null           (ms since 1970; null where not told)
 *   (and the waiting calls of wait.c)
 *
 * The module is context-aware (NAPI_MODULE_INIT), so worker threads can load it. A handle is an
 * External over a held_lock (held.c) whose finalizer gives up a lock still held when its
 * environment is torn down (the JavaScript side keeps every held handle reachable until release,
 * so that is the only time it runs on a held lock): a terminated worker leaves no descriptor, no
 * lock and no PID file behind.
 */
#include "exports.h"
#include "handle.h"
#include "held.h"
#include "napi.h"
#include "thread.h"

#include <stdlib.h>
#include <string.h>

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

static void finalize_soft_hold(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  soft_free((soft_hold *)data);
}

static napi_value soft_hold_path(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char *path;
  soft_hold *hold;

  if (!get_args(env, info, 1, argv, "softHold(path)")) return NULL;
  path = utf8_copy(env, argv[0]);
  if (path == NULL) return NULL;
  hold = soft_add(path);
  free(path);
  if (hold == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (napi_create_external(env, hold, finalize_soft_hold, NULL, &result) != napi_ok) {
    soft_free(hold);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}

static napi_value soft_release(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *data = NULL;
  if (!get_args(env, info, 1, argv, "softRelease(hold)")) return NULL;
  NAPI_CALL(env, napi_get_value_external(env, argv[0], &data));
  soft_remove((soft_hold *)data);
  return NULL;
}

static napi_value soft_held_path(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char *path;
  int held;
  if (!get_args(env, info, 1, argv, "softHeld(path)")) return NULL;
  path = utf8_copy(env, argv[0]);
  if (path == NULL) return NULL;
  held = soft_held(path);
  free(path);
  NAPI_CALL(env, napi_create_int32(env, held, &result));
  return result;
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

static napi_value set_bigint(napi_env env, napi_value object, const char *name, unsigned long long value) {
  napi_value number;
  NAPI_CALL(env, napi_create_bigint_uint64(env, (uint64_t)value, &number));
  NAPI_CALL(env, napi_set_named_property(env, object, name, number));
  return object;
}

static napi_value read_opened(napi_env env, napi_callback_info info) {
  napi_value argv[2], result, bytes, mtime;
  int32_t fd = -1, size = 0;
  char *buffer;
  size_t length = 0;
  pg_file_facts facts;
  pg_result outcome;
  napi_status status;

  if (!get_args(env, info, 2, argv, "readOpened(fd, size)")) return NULL;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &size));
  if (size < 0 || size > 65536) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "readOpened: size must be 0 to 65536");
    return NULL;
  }
  buffer = (char *)malloc((size_t)size + 1);
  if (buffer == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  outcome = pg_read_opened(fd, buffer, (size_t)size, &length, &facts);
  if (outcome.err != 0) {
    free(buffer);
    return throw_result(env, outcome);
  }
  status = napi_create_buffer_copy(env, length, buffer, NULL, &bytes);
  free(buffer);
  if (status != napi_ok) {
    throw_napi_failure(env, status);
    return NULL;
  }
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_set_named_property(env, result, "bytes", bytes));
  if (set_bigint(env, result, "dev", facts.dev) == NULL) return NULL;
  if (set_bigint(env, result, "ino", facts.ino) == NULL) return NULL;
  if (set_bigint(env, result, "nlink", facts.nlink) == NULL) return NULL;
  if (set_bigint(env, result, "mode", facts.mode) == NULL) return NULL;
  if (set_bigint(env, result, "uid", facts.uid) == NULL) return NULL;
  if (set_bigint(env, result, "gid", facts.gid) == NULL) return NULL;
  NAPI_CALL(env, napi_create_bigint_int64(env, (int64_t)facts.mtime_ns, &mtime));
  NAPI_CALL(env, napi_set_named_property(env, result, "mtimeNs", mtime));
  return result;
}

static napi_value close_descriptor(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd = -1;

  if (!get_args(env, info, 1, argv, "closeDescriptor(fd)")) return NULL;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  pg_close_descriptor(fd);
  return NULL;
}

static napi_value open_process(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int32_t pid = 0;
  int fd = -1;
  pg_result outcome;

  if (!get_args(env, info, 1, argv, "openProcess(pid)")) return NULL;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &pid));
  outcome = pg_process_open(pid, &fd);
  if (outcome.err != 0) return throw_result(env, outcome);
  NAPI_CALL(env, napi_create_int32(env, fd, &result));
  return result;
}

static napi_value signal_process(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd = -1, signal = 0;
  pg_result outcome;

  if (!get_args(env, info, 2, argv, "signalProcess(fd, signal)")) return NULL;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &signal));
  outcome = pg_process_signal(fd, signal);
  if (outcome.err != 0) return throw_result(env, outcome);
  return NULL;
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
  if (export_function(env, exports, "softHold", soft_hold_path) == NULL) return NULL;
  if (export_function(env, exports, "softRelease", soft_release) == NULL) return NULL;
  if (export_function(env, exports, "softHeld", soft_held_path) == NULL) return NULL;
  if (export_function(env, exports, "processStartTime", process_start_time) == NULL) return NULL;
  if (export_function(env, exports, "locksSupported", locks_supported) == NULL) return NULL;
  if (export_function(env, exports, "openToRead", open_to_read) == NULL) return NULL;
  if (export_function(env, exports, "readOpened", read_opened) == NULL) return NULL;
  if (export_function(env, exports, "closeDescriptor", close_descriptor) == NULL) return NULL;
  if (export_function(env, exports, "openProcess", open_process) == NULL) return NULL;
  if (export_function(env, exports, "signalProcess", signal_process) == NULL) return NULL;
  if (export_int(env, exports, "SHARED", PG_SHARED) == NULL) return NULL;
  if (export_int(env, exports, "CREATE", PG_CREATE) == NULL) return NULL;
  if (export_int(env, exports, "PIDFILE", PG_PIDFILE) == NULL) return NULL;
  if (export_int(env, exports, "MKDIR", PG_MKDIR) == NULL) return NULL;
  if (init_child(env, exports) == NULL) return NULL;
  return init_wait(env, exports);
}
