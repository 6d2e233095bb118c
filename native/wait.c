/*
 * Waiting for a lock, each wait on a thread of its own: never on the libuv threadpool, where a
 * blocked lock would starve every fs call of the process, and never polling: the thread sits in
 * the blocking lock call and wakes the moment the kernel grants it.
 *
 *   wait(path, flags, text, callback): Ticket   callback(error | null, handle | null) on the JS
 *                                               thread when granted, failed or cancelled
 *   cancelWait(ticket): void                   ends the wait soon (callback gets ECANCELED)
 *   waitSyncStart, waitSyncFor, waitSyncEnd                (a wait of the calling thread, in slices: below)
 *
 * A pending async wait holds a reference on the event loop (a thread-safe function), as a
 * pending timer does. When the environment is torn down (process exit, worker.terminate()) an
 * env cleanup hook cancels and joins every pending wait, so no thread, descriptor or lock is
 * left behind.
 *
 * Where the blocking call cannot be interrupted (Windows drivers without cancellation, and Wine,
 * whose LockFileEx ignores CancelSynchronousIo), a cancelled wait ends at once for its caller,
 * and its thread lingers until the kernel grants the lock, which it gives straight back.
 */
#include "exports.h"
#include "handle.h"
#include "napi.h"
#include "thread.h"

#include <stdlib.h>
#include <string.h>

#define WAIT_THREAD_STACK (256 * 1024)

typedef struct waiter waiter;

/* What JavaScript holds for an async wait; outlives the waiter, which detaches from it. */
typedef struct wait_ticket {
  waiter *waiter;
} wait_ticket;

/* Who owns a waiter once its wait ends. Normally the JavaScript side, which joins the thread.
 * A wait that pg_wait_cancel could not interrupt is handed to its own thread instead (ORPHANED),
 * which gives back whatever it is granted and frees the waiter; the two sides settle which case
 * it is with one compare-and-swap on `phase`. */
enum { WAITING = 0, FINISHED = 1, ORPHANED = 2 };

struct waiter {
  char *path;
  char *text;
  int flags;
  pg_wait_state state;
  pg_thread thread;
  pg_result result;
  pg_handle handle;
  volatile int phase;
  /* waitSync: the JS thread sleeps on `finished` */
  pg_event *finished;
  /* wait: the result goes back through `tsfn` */
  napi_threadsafe_function tsfn;
  wait_ticket *ticket;
  int delivered; /* the result was queued for deliver() */
  int joined;
};

static void join_once(waiter *w) {
  if (!w->joined) pg_thread_join(&w->thread);
  w->joined = 1;
}

/* Only once the thread is joined, or by the thread itself when orphaned. */
static void free_waiter(waiter *w) {
  pg_wait_end(&w->state);
  pg_event_free(w->finished);
  free(w->path);
  free(w->text);
  free(w);
}

/* Gives up a lock the waiter won but nobody will receive. */
static void abandon_lock(waiter *w) {
  if (w->result.err == 0) pg_unlock(w->handle, (w->flags & PG_PIDFILE) ? w->path : NULL);
}

/* What a wait thread is called, so that tests and operators can count and tell pidguard's
 * threads (Linux: /proc/<pid>/task/<tid>/comm). */
#define WAIT_THREAD_NAME "pidguard-wait"

static void wait_thread(void *data) {
  waiter *w = (waiter *)data;
  pg_thread_name(WAIT_THREAD_NAME);
  pg_wait_begin(&w->state);
  w->result = pg_lock_wait(w->path, w->flags, w->text, w->text ? strlen(w->text) : 0, &w->state, &w->handle);
  if (pg_compare_exchange(&w->phase, WAITING, FINISHED) == ORPHANED) {
    abandon_lock(w); /* the core gives back a lock granted after a cancel; this is the backstop */
    free_waiter(w);
    return;
  }
  if (w->tsfn != NULL) {
    w->delivered = napi_call_threadsafe_function(w->tsfn, w, napi_tsfn_blocking) == napi_ok;
  } else {
    pg_event_set(w->finished);
  }
}

/* After pg_wait_cancel could not interrupt the wait: hands the waiter to its thread. Returns 1
 * when it did (the caller must not touch the waiter again), 0 when the thread finished first
 * (join it and take the result as usual). */
static int orphan(waiter *w) {
  pg_thread thread = w->thread;
  if (pg_compare_exchange(&w->phase, WAITING, ORPHANED) != WAITING) return 0;
  pg_thread_detach(&thread);
  return 1;
}

static int start_thread(waiter *w) {
  return pg_thread_start(&w->thread, wait_thread, w, WAIT_THREAD_STACK);
}

/* A waiter with copies of the arguments and a zeroed wait state; NULL with an exception pending. */
static waiter *new_waiter(napi_env env, napi_value *argv) {
  int32_t flags = 0;
  waiter *w;
  if (napi_get_value_int32(env, argv[1], &flags) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flags must be a number");
    return NULL;
  }
  w = (waiter *)calloc(1, sizeof(*w));
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  w->flags = flags;
  w->path = utf8_copy(env, argv[0]);
  if (w->path == NULL || !optional_utf8_copy(env, argv[2], &w->text)) {
    free_waiter(w);
    return NULL;
  }
  return w;
}

/* ---- async ---- */

static void teardown_waiter(void *data);

/* Tells the callback that its wait was cancelled, for a waiter handed to its thread. */
static void deliver_cancelled(napi_env env, napi_value callback) {
  pg_result cancelled = {PG_ECANCELED, "flock"};
  napi_value argv[2], undefined;
  if (napi_get_null(env, &argv[1]) != napi_ok || napi_get_undefined(env, &undefined) != napi_ok) return;
  argv[0] = result_error(env, cancelled);
  if (argv[0] == NULL) return;
  napi_call_function(env, undefined, callback, 2, argv, NULL);
}

/* On the JS thread, once the wait thread has a result (data: the waiter), or once a wait that
 * could not be interrupted was given up (data: NULL). env is NULL when the environment is being
 * torn down with the result still queued, and then the lock is given up. */
static void deliver(napi_env env, napi_value callback, void *context, void *data) {
  waiter *w = (waiter *)data;
  napi_value argv[2], undefined;
  (void)context;

  if (w == NULL) {
    if (env != NULL) deliver_cancelled(env, callback);
    return;
  }
  join_once(w);
  if (env == NULL) {
    abandon_lock(w);
    free_waiter(w);
    return;
  }
  napi_remove_env_cleanup_hook(env, teardown_waiter, w);
  if (w->ticket != NULL) w->ticket->waiter = NULL;

  if (napi_get_null(env, &argv[0]) != napi_ok || napi_get_null(env, &argv[1]) != napi_ok ||
      napi_get_undefined(env, &undefined) != napi_ok) {
    abandon_lock(w);
  } else if (w->result.err == 0) {
    argv[1] = wrap_handle(env, w->handle, w->path, w->flags);
    w->path = NULL; /* the handle owns it now, or wrap_handle freed it */
    if (argv[1] == NULL) napi_get_null(env, &argv[1]);
  } else {
    napi_value error = result_error(env, w->result);
    if (error != NULL) argv[0] = error;
  }
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
  free_waiter(w);
  napi_call_function(env, undefined, callback, 2, argv, NULL);
}

/* Environment teardown with the wait pending: end it, and clean up what will not be delivered. */
static void teardown_waiter(void *data) {
  waiter *w = (waiter *)data;
  wait_ticket *ticket = w->ticket;
  napi_threadsafe_function tsfn = w->tsfn;
  if (!pg_wait_cancel(&w->state) && orphan(w)) {
    if (ticket != NULL) ticket->waiter = NULL;
    napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    return;
  }
  join_once(w);
  if (w->ticket != NULL) w->ticket->waiter = NULL;
  /* Queued: deliver() runs with env NULL as the thread-safe function closes, and cleans up. */
  if (w->delivered) return;
  abandon_lock(w);
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
  free_waiter(w);
}

static void finalize_ticket(napi_env env, void *data, void *hint) {
  wait_ticket *ticket = (wait_ticket *)data;
  (void)env;
  (void)hint;
  if (ticket->waiter != NULL) ticket->waiter->ticket = NULL;
  free(ticket);
}

static napi_value wait_async(napi_env env, napi_callback_info info) {
  napi_value argv[4], name, result;
  wait_ticket *ticket;
  waiter *w;

  if (!get_args(env, info, 4, argv, "wait(path, flags, text, callback)")) return NULL;
  w = new_waiter(env, argv);
  if (w == NULL) return NULL;
  ticket = (wait_ticket *)malloc(sizeof(*ticket));
  if (ticket == NULL) {
    free_waiter(w);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  ticket->waiter = w;
  w->ticket = ticket;
  if (napi_create_string_utf8(env, "pidguard.wait", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, NULL, deliver, &w->tsfn) != napi_ok) {
    free(ticket);
    free_waiter(w);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  if (napi_create_external(env, ticket, finalize_ticket, NULL, &result) != napi_ok) {
    free(ticket);
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    free_waiter(w);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  /* From here the ticket belongs to its External; detach it before giving up the waiter. */
  if (napi_add_env_cleanup_hook(env, teardown_waiter, w) != napi_ok) {
    ticket->waiter = NULL;
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    free_waiter(w);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  if (start_thread(w) != 0) {
    napi_remove_env_cleanup_hook(env, teardown_waiter, w);
    ticket->waiter = NULL;
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    free_waiter(w);
    napi_throw_error(env, "EAGAIN", "could not start a thread to wait for the lock");
    return NULL;
  }
  return result;
}

static napi_value cancel_wait(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *data = NULL;
  napi_threadsafe_function tsfn;
  wait_ticket *ticket;
  waiter *w;

  if (!get_args(env, info, 1, argv, "cancelWait(ticket)")) return NULL;
  NAPI_CALL(env, napi_get_value_external(env, argv[0], &data));
  ticket = (wait_ticket *)data;
  w = ticket->waiter;
  if (w == NULL) return NULL;                    /* already delivered */
  if (pg_wait_cancel(&w->state)) return NULL;    /* the thread delivers ECANCELED */
  tsfn = w->tsfn;
  if (!orphan(w)) return NULL;                   /* it finished first: its result is on the way */
  /* The thread now owns the waiter; answer the callback in its place. */
  ticket->waiter = NULL;
  napi_remove_env_cleanup_hook(env, teardown_waiter, w);
  NAPI_CALL(env, napi_call_threadsafe_function(tsfn, NULL, napi_tsfn_nonblocking));
  NAPI_CALL(env, napi_release_threadsafe_function(tsfn, napi_tsfn_release));
  return NULL;
}

/* ---- sync ----
 *
 * A synchronous wait blocks its JavaScript thread, but never for long at a time: JavaScript
 * calls waitSyncFor in slices, so that between them V8 can end a worker being terminated (or a
 * process exiting), which it cannot do while the thread sits in native code. A ticket left
 * pending when its environment is torn down is cancelled by a cleanup hook.
 *
 *   waitSyncStart(path, flags, text): SyncTicket
 *   waitSyncFor(ticket, sliceMs): Handle | undefined     (undefined: still waiting; throws on failure)
 *   waitSyncEnd(ticket): Handle | null                   (cancels; a lock granted meanwhile is returned)
 */

typedef struct sync_ticket {
  waiter *waiter; /* NULL once the wait has been ended and its result taken */
  napi_env env;
} sync_ticket;

static void teardown_sync(void *data);

/* Cancels the ticket's wait; with `keep`, a lock granted in the meantime is left in *granted
 * (else given up). The waiter is joined and freed, or handed to its thread. The caller removes
 * the cleanup hook, unless it is the hook. */
static void end_sync_wait(sync_ticket *ticket, int keep, pg_result *outcome, pg_handle *granted, char **path) {
  waiter *w = ticket->waiter;
  ticket->waiter = NULL;
  outcome->err = PG_ECANCELED;
  outcome->syscall = "flock";
  if (!pg_wait_cancel(&w->state) && orphan(w)) return; /* its thread gives up what it gets */
  join_once(w);
  if (w->result.err == 0 && !keep) abandon_lock(w);
  *outcome = w->result;
  *granted = w->handle;
  if (path != NULL) {
    *path = w->path;
    w->path = NULL;
  }
  free_waiter(w);
}

static void teardown_sync(void *data) {
  sync_ticket *ticket = (sync_ticket *)data;
  pg_result outcome;
  pg_handle granted;
  if (ticket->waiter != NULL) end_sync_wait(ticket, 0, &outcome, &granted, NULL);
}

static void finalize_sync_ticket(napi_env env, void *data, void *hint) {
  sync_ticket *ticket = (sync_ticket *)data;
  (void)hint;
  if (ticket->waiter != NULL) { /* dropped while pending: an exception thrown between slices */
    napi_remove_env_cleanup_hook(env, teardown_sync, ticket);
    teardown_sync(ticket);
  }
  free(ticket);
}

/* The value for a finished wait: a handle, null when cancelled, or a thrown error. */
static napi_value settle_sync(napi_env env, pg_result outcome, pg_handle handle, char *path, int flags) {
  napi_value result;
  if (outcome.err == 0) return wrap_handle(env, handle, path, flags);
  free(path);
  if (outcome.err == PG_ECANCELED) {
    NAPI_CALL(env, napi_get_null(env, &result));
    return result;
  }
  result = result_error(env, outcome);
  if (result != NULL) napi_throw(env, result);
  return NULL;
}

static sync_ticket *sync_ticket_arg(napi_env env, napi_value value) {
  void *data = NULL;
  sync_ticket *ticket;
  NAPI_CALL(env, napi_get_value_external(env, value, &data));
  ticket = (sync_ticket *)data;
  if (ticket->waiter == NULL) {
    napi_throw_error(env, "ERR_PIDGUARD_RELEASED", "the wait has ended");
    return NULL;
  }
  return ticket;
}

static napi_value wait_sync_start(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  sync_ticket *ticket;
  waiter *w;

  if (!get_args(env, info, 3, argv, "waitSyncStart(path, flags, text)")) return NULL;
  w = new_waiter(env, argv);
  if (w == NULL) return NULL;
  w->finished = pg_event_new();
  ticket = (sync_ticket *)calloc(1, sizeof(*ticket));
  if (w->finished == NULL || ticket == NULL) {
    free(ticket);
    free_waiter(w);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  ticket->env = env;
  if (napi_create_external(env, ticket, finalize_sync_ticket, NULL, &result) != napi_ok) {
    free(ticket);
    free_waiter(w);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  /* From here the ticket belongs to its External. */
  if (start_thread(w) != 0) {
    free_waiter(w);
    napi_throw_error(env, "EAGAIN", "could not start a thread to wait for the lock");
    return NULL;
  }
  ticket->waiter = w;
  if (napi_add_env_cleanup_hook(env, teardown_sync, ticket) != napi_ok) {
    pg_result outcome; /* no hook to remove */
    pg_handle granted;
    end_sync_wait(ticket, 0, &outcome, &granted, NULL);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}

static napi_value wait_sync_for(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  double slice_ms = 0;
  sync_ticket *ticket;
  waiter *w;
  pg_result outcome;
  pg_handle handle;
  int flags;
  char *path;

  if (!get_args(env, info, 2, argv, "waitSyncFor(ticket, sliceMs)")) return NULL;
  ticket = sync_ticket_arg(env, argv[0]);
  if (ticket == NULL) return NULL;
  NAPI_CALL(env, napi_get_value_double(env, argv[1], &slice_ms));
  w = ticket->waiter;
  if (!pg_event_wait(w->finished, slice_ms < 0 ? 0 : slice_ms)) {
    NAPI_CALL(env, napi_get_undefined(env, &result));
    return result;
  }
  ticket->waiter = NULL;
  napi_remove_env_cleanup_hook(env, teardown_sync, ticket);
  join_once(w);
  outcome = w->result;
  handle = w->handle;
  flags = w->flags;
  path = w->path;
  w->path = NULL;
  free_waiter(w);
  return settle_sync(env, outcome, handle, path, flags);
}

static napi_value wait_sync_end(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  sync_ticket *ticket;
  pg_result outcome;
  pg_handle granted;
  char *path = NULL;
  int flags;

  if (!get_args(env, info, 1, argv, "waitSyncEnd(ticket)")) return NULL;
  ticket = sync_ticket_arg(env, argv[0]);
  if (ticket == NULL) return NULL;
  flags = ticket->waiter->flags;
  napi_remove_env_cleanup_hook(env, teardown_sync, ticket);
  end_sync_wait(ticket, 1, &outcome, &granted, &path);
  /* Granted in the same instant as the timeout: the lock is the caller's. */
  return settle_sync(env, outcome, granted, path, flags);
}

napi_value init_wait(napi_env env, napi_value exports) {
  if (export_function(env, exports, "wait", wait_async) == NULL) return NULL;
  if (export_function(env, exports, "cancelWait", cancel_wait) == NULL) return NULL;
  if (export_function(env, exports, "waitSyncStart", wait_sync_start) == NULL) return NULL;
  if (export_function(env, exports, "waitSyncFor", wait_sync_for) == NULL) return NULL;
  if (export_function(env, exports, "waitSyncEnd", wait_sync_end) == NULL) return NULL;
  return exports;
}
