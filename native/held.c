/*
 * The list of held locks (held.h). One mutex guards the list and every use of a held lock's
 * descriptor, so that a worker releasing its lock and the main thread's exit cleanup cannot
 * both close it (or close a descriptor number already reused).
 */
#include "held.h"

#include "thread.h"

#include <stdlib.h>
#include <string.h>

struct held_lock {
  pg_handle handle;
  int open;
  int pidfile;      /* an exclusive PID file: removed, if still ours, when given up at teardown or exit */
  int keep_at_exit; /* another process shares it (held_keep_at_exit) */
  char *path;
  held_lock *prev, *next;
};

static pg_mutex mutex = PG_MUTEX_INIT;
static held_lock *first;
/* Set by held_release_all: the process is ending, and a lock taken from now on (by a worker that
 * was acquiring as the main thread's exit cleanup ran) is given up at once rather than left. */
static int exiting;

static pg_result released(void) {
  pg_result r = {PG_ERELEASED, NULL};
  return r;
}

/* Gives the lock up; with the mutex held. */
static pg_result give_up(held_lock *lock, int remove) {
  lock->open = 0;
  return pg_unlock(lock->handle, remove ? lock->path : NULL);
}

held_lock *held_add(pg_handle handle, char *path, int pidfile) {
  held_lock *lock = (held_lock *)calloc(1, sizeof(*lock));
  if (lock == NULL) {
    pg_unlock(handle, pidfile ? path : NULL);
    free(path);
    return NULL;
  }
  lock->handle = handle;
  lock->open = 1;
  lock->pidfile = pidfile;
  lock->path = path;
  pg_mutex_lock(&mutex);
  if (exiting) {
    pg_mutex_unlock(&mutex);
    pg_unlock(handle, pidfile ? path : NULL);
    free(path);
    free(lock);
    return NULL;
  }
  lock->next = first;
  if (first != NULL) first->prev = lock;
  first = lock;
  pg_mutex_unlock(&mutex);
  return lock;
}

pg_result held_release(held_lock *lock, int remove) {
  pg_result result;
  pg_mutex_lock(&mutex);
  result = lock->open ? give_up(lock, remove) : released();
  pg_mutex_unlock(&mutex);
  return result;
}

pg_result held_verify(held_lock *lock, int *names) {
  pg_result result;
  pg_mutex_lock(&mutex);
  result = lock->open ? pg_verify(lock->handle, lock->path, names) : released();
  pg_mutex_unlock(&mutex);
  return result;
}

pg_result held_rewrite(held_lock *lock, const char *text, size_t text_len) {
  pg_result result;
  pg_mutex_lock(&mutex);
  result = lock->open ? pg_rewrite(lock->handle, text, text_len) : released();
  pg_mutex_unlock(&mutex);
  return result;
}

pg_result held_descriptor(held_lock *lock, int *descriptor) {
  pg_result result = {0, NULL};
  pg_mutex_lock(&mutex);
  if (lock->open) {
    *descriptor = pg_descriptor(lock->handle);
  } else {
    result = released();
  }
  pg_mutex_unlock(&mutex);
  return result;
}

pg_result held_keep_at_exit(held_lock *lock, int keep) {
  pg_result result = {0, NULL};
  pg_mutex_lock(&mutex);
  if (lock->open) {
    lock->keep_at_exit = keep;
  } else {
    result = released();
  }
  pg_mutex_unlock(&mutex);
  return result;
}

void held_free(held_lock *lock) {
  pg_mutex_lock(&mutex);
  if (lock->open && lock->keep_at_exit) {
    lock->open = 0;
    pg_close(lock->handle); /* the sharer keeps the lock, and the file naming it */
  } else if (lock->open) {
    give_up(lock, lock->pidfile);
  }
  if (lock->prev != NULL) lock->prev->next = lock->next;
  else first = lock->next;
  if (lock->next != NULL) lock->next->prev = lock->prev;
  pg_mutex_unlock(&mutex);
  free(lock->path);
  free(lock);
}

int held_exiting(void) {
  int value;
  pg_mutex_lock(&mutex);
  value = exiting;
  pg_mutex_unlock(&mutex);
  return value;
}

void held_release_all(void) {
  held_lock *lock;
  pg_mutex_lock(&mutex);
  exiting = 1;
  for (lock = first; lock != NULL; lock = lock->next) {
    if (lock->open && !lock->keep_at_exit) give_up(lock, lock->pidfile);
  }
  pg_mutex_unlock(&mutex);
}

struct soft_hold {
  char *path;
  int listed;
  soft_hold *prev, *next;
};

static soft_hold *first_soft;

soft_hold *soft_add(const char *path) {
  soft_hold *hold = (soft_hold *)calloc(1, sizeof(*hold));
  if (hold == NULL) return NULL;
  hold->path = strdup(path);
  if (hold->path == NULL) {
    free(hold);
    return NULL;
  }
  pg_mutex_lock(&mutex);
  hold->listed = 1;
  hold->next = first_soft;
  if (first_soft != NULL) first_soft->prev = hold;
  first_soft = hold;
  pg_mutex_unlock(&mutex);
  return hold;
}

/* With the mutex held. */
static void unlist(soft_hold *hold) {
  if (!hold->listed) return;
  hold->listed = 0;
  if (hold->prev != NULL) hold->prev->next = hold->next;
  else first_soft = hold->next;
  if (hold->next != NULL) hold->next->prev = hold->prev;
  hold->prev = hold->next = NULL;
}

void soft_remove(soft_hold *hold) {
  pg_mutex_lock(&mutex);
  unlist(hold);
  pg_mutex_unlock(&mutex);
}

void soft_free(soft_hold *hold) {
  soft_remove(hold);
  free(hold->path);
  free(hold);
}

int soft_held(const char *path) {
  soft_hold *hold;
  int count = 0;
  pg_mutex_lock(&mutex);
  for (hold = first_soft; hold != NULL; hold = hold->next) count += strcmp(hold->path, path) == 0;
  pg_mutex_unlock(&mutex);
  return count;
}
