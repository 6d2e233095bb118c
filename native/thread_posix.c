/*
 * POSIX threads for wait.c (see thread.h). The event's time limit is measured on
 * CLOCK_MONOTONIC, so a change of the wall clock neither ends a wait early nor stretches it
 * (macOS cannot set a condition variable's clock, and measures on the wall clock).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np, dladdr */
#endif
#include "thread.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#if defined(__APPLE__)
#define EVENT_CLOCK CLOCK_REALTIME
#else
#define EVENT_CLOCK CLOCK_MONOTONIC
#endif

struct pg_event {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int set;
};

typedef struct thread_start {
  void (*fn)(void *);
  void *arg;
} thread_start;

static void *run_thread(void *data) {
  thread_start start = *(thread_start *)data;
  free(data);
  start.fn(start.arg);
  return NULL;
}

int pg_thread_start(pg_thread *thread, void (*fn)(void *), void *arg, size_t stack_size) {
  pthread_attr_t attr;
  thread_start *start = (thread_start *)malloc(sizeof(*start));
  int rc;
  if (start == NULL) return ENOMEM;
  start->fn = fn;
  start->arg = arg;
  if ((rc = pthread_attr_init(&attr)) != 0) {
    free(start);
    return rc;
  }
  rc = pthread_attr_setstacksize(&attr, stack_size);
  if (rc == 0) rc = pthread_create(thread, &attr, run_thread, start);
  pthread_attr_destroy(&attr);
  if (rc != 0) free(start);
  return rc;
}

void pg_thread_join(pg_thread *thread) {
  pthread_join(*thread, NULL);
}

void pg_thread_detach(pg_thread *thread) {
  pthread_detach(*thread);
}

void pg_mutex_lock(pg_mutex *mutex) {
  pthread_mutex_lock(mutex);
}

void pg_mutex_unlock(pg_mutex *mutex) {
  pthread_mutex_unlock(mutex);
}

int pg_stay_loaded(void) {
  static volatile int result = -1; /* once it has worked, there is nothing more to do */
  Dl_info info;
  if (result == 0) return 0;
  if (dladdr((void *)&pg_stay_loaded, &info) == 0 || info.dli_fname == NULL) return -1;
  /* Another reference to the library already loaded, never closed, and marked never to be
   * unloaded: it stays mapped whoever closes theirs. */
  if (dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE) == NULL) return -1;
  result = 0;
  return 0;
}

void pg_thread_name(const char *name) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name); /* too long a name fails, and the thread is unnamed */
#else
  (void)name;
#endif
}

pg_event *pg_event_new(void) {
  pthread_condattr_t attr;
  pg_event *event = (pg_event *)calloc(1, sizeof(*event));
  if (event == NULL) return NULL;
  if (pthread_mutex_init(&event->mutex, NULL) != 0) {
    free(event);
    return NULL;
  }
  if (pthread_condattr_init(&attr) != 0) goto fail_mutex;
#if !defined(__APPLE__)
  pthread_condattr_setclock(&attr, EVENT_CLOCK);
#endif
  if (pthread_cond_init(&event->cond, &attr) != 0) {
    pthread_condattr_destroy(&attr);
    goto fail_mutex;
  }
  pthread_condattr_destroy(&attr);
  return event;
fail_mutex:
  pthread_mutex_destroy(&event->mutex);
  free(event);
  return NULL;
}

void pg_event_set(pg_event *event) {
  pthread_mutex_lock(&event->mutex);
  event->set = 1;
  pthread_cond_signal(&event->cond);
  pthread_mutex_unlock(&event->mutex);
}

/* Longer than any wait anyone means (about 31 years), and short enough not to overflow. */
#define LONGEST_WAIT_MS 1e12

static struct timespec deadline_after(double timeout_ms) {
  struct timespec deadline;
  long long nanos;
  if (timeout_ms > LONGEST_WAIT_MS) timeout_ms = LONGEST_WAIT_MS;
  clock_gettime(EVENT_CLOCK, &deadline);
  nanos = (long long)deadline.tv_nsec + (long long)(timeout_ms * 1e6);
  deadline.tv_sec += (time_t)(nanos / 1000000000LL);
  deadline.tv_nsec = (long)(nanos % 1000000000LL);
  return deadline;
}

int pg_event_wait(pg_event *event, double timeout_ms) {
  int set;
  pthread_mutex_lock(&event->mutex);
  if (timeout_ms < 0) {
    while (!event->set) pthread_cond_wait(&event->cond, &event->mutex);
  } else {
    struct timespec deadline = deadline_after(timeout_ms);
    while (!event->set) {
      if (pthread_cond_timedwait(&event->cond, &event->mutex, &deadline) == ETIMEDOUT) break;
    }
  }
  set = event->set;
  pthread_mutex_unlock(&event->mutex);
  return set;
}

void pg_event_free(pg_event *event) {
  if (event == NULL) return;
  pthread_cond_destroy(&event->cond);
  pthread_mutex_destroy(&event->mutex);
  free(event);
}

int pg_compare_exchange(volatile int *target, int expected, int value) {
  __atomic_compare_exchange_n(target, &expected, value, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;
}
