/*
 * The Node-API surface of child.h, POSIX only (Windows: child_win32.c exports nothing, and
 * `pidguard run` uses Node's spawn there):
 *
 *   spawnChild(file: string, argv: string[], envp: string[], lockFd: number, reapOthers: boolean,
 *              done: (code: number, signal: number, errno: number) => void): Child | number
 *   childPid(child: Child): number
 *   execChild(child: Child): number        0, or the negative errno its exec met
 *   cancelChild(child: Child): void        it exits without running anything
 *
 * spawnChild forks the command's process and holds it before its exec (so that its PID can be
 * recorded first), or returns a negative errno when the fork failed (nothing then runs and
 * `done` is never called). A Child given up without execChild is cancelled by its finalizer.
 * A thread of its own waits for the process to end and delivers how through a thread-safe
 * function, the way wait.c delivers a granted lock: `done` runs on the JS thread with the exit
 * code and 0, or -1 and the signal's number, or with the errno of a wait that failed. The
 * process is reaped just before `done` runs, on the JS thread, so that a signal passed on to it
 * before then reaches it or its zombie, never a process that has reused its PID. A pending
 * command keeps the event loop alive, as a ChildProcess does.
 *
 * At environment teardown (process exit, worker.terminate()) with the command still running, a
 * cleanup hook closes the thread-safe function; the thread, detached from the start, then only
 * reaps the command when it ends and frees what is left. Nobody joins it: the command may run
 * for days, and a thread blocked in waitid keeps neither a process nor a worker from exiting.
 * Since it may outlive the environment that loaded the addon, whose teardown unloads the addon
 * when no other environment uses it, the addon stays loaded (pg_stay_loaded, at its load).
 */
#include "exports.h"
#include "napi.h"
#include "child.h"
#include "thread.h"

#include <pthread.h>
#include <stdlib.h>

#define CHILD_THREAD_STACK (128 * 1024)

/* Shared by the waiting thread and the environment; whichever lets go last frees it. */
typedef struct child_end child_end;

typedef struct child_watch {
  pid_t pid;
  int reap_others;
  child_end *end; /* made before the thread starts, so that its news cannot be lost to malloc */
  napi_threadsafe_function tsfn;
  pthread_mutex_t mutex;
  int closed;   /* the environment is being torn down: tsfn is not to be used (under mutex) */
  int released; /* the thread has given tsfn back (under mutex) */
  int refs;     /* the thread's and the environment's */
} child_watch;

/* How the command ended, queued for deliver(); owned by whoever holds it. */
struct child_end {
  pid_t pid;
  int code;
  int signal;
  int err;
};

static void drop_ref(child_watch *w) {
  if (__atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  pthread_mutex_destroy(&w->mutex);
  free(w->end);
  free(w);
}

static void watch_thread(void *data) {
  child_watch *w = (child_watch *)data;
  child_end *end = w->end;
  pg_result outcome = pg_child_wait(w->pid, w->reap_others, &end->code, &end->signal);

  end->pid = w->pid;
  end->err = outcome.err;
  pthread_mutex_lock(&w->mutex);
  if (!w->closed) {
    /* Queued, the end belongs to deliver(). */
    if (napi_call_threadsafe_function(w->tsfn, end, napi_tsfn_blocking) == napi_ok) w->end = NULL;
    if (napi_release_threadsafe_function(w->tsfn, napi_tsfn_release) != napi_ok) {
      /* Nothing to undo: Node's own teardown closes the function. */
    }
    w->released = 1;
  }
  pthread_mutex_unlock(&w->mutex);
  /* Nobody will be told (torn down meanwhile): reap it here, or it stays a zombie. */
  if (w->end != NULL) pg_child_reap(w->pid);
  drop_ref(w);
}

static void teardown_watch(void *data) {
  child_watch *w = (child_watch *)data;
  pthread_mutex_lock(&w->mutex);
  w->closed = 1;
  if (!w->released && napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort) != napi_ok) {
    /* Nothing to undo: Node's own cleanup hook, which runs after this one, closes the function. */
  }
  pthread_mutex_unlock(&w->mutex);
  drop_ref(w);
}

/* On the JS thread (env NULL when the environment is torn down with `end` still queued, after
 * teardown_watch has let go of the watch, which must not be touched then). */
static void deliver(napi_env env, napi_value callback, void *context, void *data) {
  child_end *end = (child_end *)data;
  child_watch *w = (child_watch *)context;
  napi_value argv[3], undefined;

  pg_child_reap(end->pid);
  if (env == NULL) {
    free(end);
    return;
  }
  /* The environment's reference, unless the hook stays registered: then it lets go at teardown. */
  if (napi_remove_env_cleanup_hook(env, teardown_watch, w) == napi_ok) drop_ref(w);
  if (napi_create_int32(env, end->code, &argv[0]) == napi_ok &&
      napi_create_int32(env, end->signal, &argv[1]) == napi_ok &&
      napi_create_int32(env, end->err, &argv[2]) == napi_ok && napi_get_undefined(env, &undefined) == napi_ok &&
      napi_call_function(env, undefined, callback, 3, argv, NULL) != napi_ok) {
    /* The callback threw: Node reports that as an uncaught exception, as for any callback. */
  }
  free(end);
}

static void free_strings(char **strings) {
  size_t i;
  if (strings == NULL) return;
  for (i = 0; strings[i] != NULL; i++) free(strings[i]);
  free(strings);
}

/* A NULL-terminated copy of a JS array of strings; NULL with an exception pending. */
static char **string_array(napi_env env, napi_value array) {
  uint32_t length = 0, i;
  char **strings;
  napi_value element;
  if (napi_get_array_length(env, array, &length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "argv and envp must be arrays of strings");
    return NULL;
  }
  strings = (char **)calloc((size_t)length + 1, sizeof(char *));
  if (strings == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  for (i = 0; i < length; i++) {
    if (napi_get_element(env, array, i, &element) != napi_ok) {
      throw_napi_failure(env, napi_generic_failure);
      free_strings(strings);
      return NULL;
    }
    strings[i] = utf8_copy(env, element);
    if (strings[i] == NULL) {
      free_strings(strings);
      return NULL;
    }
  }
  return strings;
}

/* A watch with its thread-safe function and cleanup hook; NULL with an exception pending. */
static child_watch *new_watch(napi_env env, napi_value callback, int reap_others) {
  napi_value name;
  child_watch *w = (child_watch *)calloc(1, sizeof(*w));
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  w->reap_others = reap_others;
  w->refs = 2;
  w->end = (child_end *)calloc(1, sizeof(*w->end));
  if (w->end == NULL || pthread_mutex_init(&w->mutex, NULL) != 0) {
    free(w->end);
    free(w);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (napi_create_string_utf8(env, "pidguard.child", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, callback, NULL, name, 0, 1, NULL, NULL, w, deliver, &w->tsfn) != napi_ok) {
    pthread_mutex_destroy(&w->mutex);
    free(w->end);
    free(w);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  /* Added after the thread-safe function, so that it runs before Node's own cleanup of it. */
  if (napi_add_env_cleanup_hook(env, teardown_watch, w) != napi_ok) {
    if (napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort) != napi_ok) {
      /* Nothing to undo: Node's own teardown closes the function. */
    }
    pthread_mutex_destroy(&w->mutex);
    free(w->end);
    free(w);
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return w;
}

/* Undoes new_watch for a command that was never started (or was ended at once). */
static void discard_watch(napi_env env, child_watch *w) {
  if (napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort) != napi_ok) {
    /* Nothing to undo: Node's own teardown closes the function. */
  }
  w->released = 1;
  w->refs = 1; /* no thread: the environment's reference alone */
  /* Should the hook stay registered, it lets go of the watch at teardown instead. */
  if (napi_remove_env_cleanup_hook(env, teardown_watch, w) == napi_ok) drop_ref(w);
}

/* What JavaScript holds for a forked command: its gate, until it is let run or given up. */
typedef struct child_ticket {
  pg_child child;
  int held; /* still at the gate */
} child_ticket;

static void finalize_ticket(napi_env env, void *data, void *hint) {
  child_ticket *ticket = (child_ticket *)data;
  (void)env;
  (void)hint;
  if (ticket->held) pg_child_cancel(&ticket->child);
  free(ticket);
}

static napi_value spawn_child(napi_env env, napi_callback_info info) {
  napi_value argv[6], result;
  char *file = NULL, **args = NULL, **envp = NULL;
  int32_t lock_fd = -1;
  bool reap_others = false;
  napi_valuetype type;
  child_watch *w;
  child_ticket *ticket;
  pg_thread thread;
  pg_result outcome;

  if (!get_args(env, info, 6, argv, "spawnChild(file, argv, envp, lockFd, reapOthers, done)")) return NULL;
  if (napi_get_value_int32(env, argv[3], &lock_fd) != napi_ok ||
      napi_get_value_bool(env, argv[4], &reap_others) != napi_ok || napi_typeof(env, argv[5], &type) != napi_ok ||
      type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "lockFd must be a number, reapOthers a boolean and done a function");
    return NULL;
  }
  ticket = (child_ticket *)calloc(1, sizeof(*ticket));
  if (ticket == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  file = utf8_copy(env, argv[0]);
  if (file != NULL) args = string_array(env, argv[1]);
  if (args != NULL) envp = string_array(env, argv[2]);
  w = envp == NULL ? NULL : new_watch(env, argv[5], reap_others);
  if (w == NULL) {
    free(ticket);
    free(file);
    free_strings(args);
    free_strings(envp);
    return NULL;
  }

  outcome = pg_child_spawn(file, args, envp, lock_fd, &ticket->child);
  free(file);
  free_strings(args);
  free_strings(envp);
  if (outcome.err != 0) {
    discard_watch(env, w);
    free(ticket);
    NAPI_CALL(env, napi_create_int32(env, -outcome.err, &result));
    return result;
  }
  w->pid = ticket->child.pid;
  if (pg_thread_start(&thread, watch_thread, w, CHILD_THREAD_STACK) != 0) {
    /* Nothing could tell when it ends: it must not run at all. */
    pg_child_cancel(&ticket->child);
    pg_child_end(ticket->child.pid);
    discard_watch(env, w);
    free(ticket);
    napi_throw_error(env, "EAGAIN", "could not start a thread to wait for the command");
    return NULL;
  }
  pg_thread_detach(&thread);
  ticket->held = 1;
  if (napi_create_external(env, ticket, finalize_ticket, NULL, &result) != napi_ok) {
    finalize_ticket(env, ticket, NULL); /* cancelled: the thread sees it exit and reaps it */
    throw_napi_failure(env, napi_generic_failure);
    return NULL;
  }
  return result;
}

/* The ticket behind a Child argument; NULL with an exception pending. */
static child_ticket *ticket_of(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a child from spawnChild");
    return NULL;
  }
  return (child_ticket *)data;
}

static napi_value child_pid(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  child_ticket *ticket;
  if (!get_args(env, info, 1, argv, "childPid(child)")) return NULL;
  if ((ticket = ticket_of(env, argv[0])) == NULL) return NULL;
  NAPI_CALL(env, napi_create_int32(env, (int32_t)ticket->child.pid, &result));
  return result;
}

static napi_value exec_child(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  child_ticket *ticket;
  pg_result outcome;
  if (!get_args(env, info, 1, argv, "execChild(child)")) return NULL;
  if ((ticket = ticket_of(env, argv[0])) == NULL) return NULL;
  if (!ticket->held) {
    napi_throw_error(env, "ERR_PIDGUARD_CHILD", "the child has already been let run or given up");
    return NULL;
  }
  ticket->held = 0;
  outcome = pg_child_exec(&ticket->child);
  NAPI_CALL(env, napi_create_int32(env, -outcome.err, &result));
  return result;
}

static napi_value cancel_child(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  child_ticket *ticket;
  if (!get_args(env, info, 1, argv, "cancelChild(child)")) return NULL;
  if ((ticket = ticket_of(env, argv[0])) == NULL) return NULL;
  if (ticket->held) pg_child_cancel(&ticket->child);
  ticket->held = 0;
  return NULL;
}

napi_value init_child(napi_env env, napi_value exports) {
  if (export_function(env, exports, "spawnChild", spawn_child) == NULL) return NULL;
  if (export_function(env, exports, "childPid", child_pid) == NULL) return NULL;
  if (export_function(env, exports, "execChild", exec_child) == NULL) return NULL;
  return export_function(env, exports, "cancelChild", cancel_child);
}
