/*
 * The little threading wait.c needs, one file per platform behind this header (thread_posix.c:
 * pthreads; thread_win32.c: Win32 threads and events), so that the addon needs no libuv header:
 * Node's include directory has none for Windows, and a cross build for win32 has only
 * node-api-headers.
 */
#ifndef PIDGUARD_THREAD_H
#define PIDGUARD_THREAD_H

#include <stddef.h>

#ifdef _WIN32
typedef void *pg_thread; /* a HANDLE from _beginthreadex */
/* An SRWLOCK, spelled without <windows.h>: one pointer, zero when unlocked. */
typedef struct pg_mutex {
  void *ptr;
} pg_mutex;
#define PG_MUTEX_INIT {0}
#else
#include <pthread.h>
typedef pthread_t pg_thread;
typedef pthread_mutex_t pg_mutex;
#define PG_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#endif

/* A mutex made with PG_MUTEX_INIT (static storage; never destroyed). */
void pg_mutex_lock(pg_mutex *mutex);
void pg_mutex_unlock(pg_mutex *mutex);

/* A one-shot signal: set once by one thread, awaited by another (with a time limit or none). */
typedef struct pg_event pg_event;

/* Starts fn(arg) on a new thread with a stack of `stack_size` bytes. 0, or nonzero on failure. */
int pg_thread_start(pg_thread *thread, void (*fn)(void *), void *arg, size_t stack_size);

/* Waits for the thread to finish and frees what it held. */
void pg_thread_join(pg_thread *thread);

/* Lets the thread finish on its own and free what it held; it is never joined. */
void pg_thread_detach(pg_thread *thread);

/* Keeps this addon loaded for the rest of the process, even once the environment that loaded it
 * (a worker) is torn down: a thread of ours may outlive it (a wait left to its thread, the thread
 * that waits for `pidguard run`'s command), and must never run code that has been unmapped.
 * 0 on success. */
int pg_stay_loaded(void);

/* Names the calling thread, where the platform lets a thread be named and shown (Linux: the
 * 15 characters /proc/<pid>/task/<tid>/comm shows); elsewhere nothing. */
void pg_thread_name(const char *name);

/* A new, unset event; NULL when out of memory. */
pg_event *pg_event_new(void);

void pg_event_set(pg_event *event);

/* Waits until the event is set (1) or `timeout_ms` has passed (0); a negative timeout waits
 * for as long as it takes. */
int pg_event_wait(pg_event *event, double timeout_ms);

void pg_event_free(pg_event *event);

/* Atomically stores `value` in *target if it holds `expected`; returns what it held before. */
int pg_compare_exchange(volatile int *target, int expected, int value);

#endif
