/*
 * Windows threads for wait.c (see thread.h): _beginthreadex, so that the C runtime is set up on
 * the thread, and a manual-reset event.
 */
#include "thread.h"

#include <windows.h>

#include <process.h>
#include <stdlib.h>

struct pg_event {
  HANDLE handle;
};

typedef struct thread_start {
  void (*fn)(void *);
  void *arg;
} thread_start;

static unsigned __stdcall run_thread(void *data) {
  thread_start start = *(thread_start *)data;
  free(data);
  start.fn(start.arg);
  return 0;
}

int pg_thread_start(pg_thread *thread, void (*fn)(void *), void *arg, size_t stack_size) {
  thread_start *start = (thread_start *)malloc(sizeof(*start));
  uintptr_t handle;
  if (start == NULL) return ERROR_NOT_ENOUGH_MEMORY;
  start->fn = fn;
  start->arg = arg;
  handle = _beginthreadex(NULL, (unsigned)stack_size, run_thread, start, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
  if (handle == 0) {
    free(start);
    return ERROR_NOT_ENOUGH_MEMORY;
  }
  *thread = (pg_thread)handle;
  return 0;
}

void pg_thread_join(pg_thread *thread) {
  WaitForSingleObject((HANDLE)*thread, INFINITE);
  CloseHandle((HANDLE)*thread);
}

void pg_thread_detach(pg_thread *thread) {
  CloseHandle((HANDLE)*thread); /* the thread runs on; only our handle to it goes */
}

void pg_mutex_lock(pg_mutex *mutex) {
  AcquireSRWLockExclusive((PSRWLOCK)mutex);
}

void pg_mutex_unlock(pg_mutex *mutex) {
  ReleaseSRWLockExclusive((PSRWLOCK)mutex);
}

int pg_stay_loaded(void) {
  HMODULE self = NULL;
  /* Pinned: the module stays loaded until the process ends, whoever frees it. */
  return GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                            (LPCWSTR)(void *)&pg_stay_loaded, &self)
             ? 0
             : -1;
}

void pg_thread_name(const char *name) {
  (void)name; /* SetThreadDescription exists from Windows 10 1607 on only; nothing reads it here */
}

pg_event *pg_event_new(void) {
  pg_event *event = (pg_event *)malloc(sizeof(*event));
  if (event == NULL) return NULL;
  event->handle = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (event->handle == NULL) {
    free(event);
    return NULL;
  }
  return event;
}

void pg_event_set(pg_event *event) {
  SetEvent(event->handle);
}

int pg_event_wait(pg_event *event, double timeout_ms) {
  ULONGLONG deadline;
  if (timeout_ms < 0) return WaitForSingleObject(event->handle, INFINITE) == WAIT_OBJECT_0;
  /* One WaitForSingleObject takes at most 2^32 - 2 ms; wait in slices up to the deadline. */
  deadline = GetTickCount64() + (ULONGLONG)timeout_ms;
  for (;;) {
    ULONGLONG now = GetTickCount64();
    ULONGLONG left = now >= deadline ? 0 : deadline - now;
    DWORD slice = left > 0x7FFFFFFFull ? 0x7FFFFFFFu : (DWORD)left;
    if (WaitForSingleObject(event->handle, slice) == WAIT_OBJECT_0) return 1;
    if (left <= slice) return 0;
  }
}

void pg_event_free(pg_event *event) {
  if (event == NULL) return;
  CloseHandle(event->handle);
  free(event);
}

int pg_compare_exchange(volatile int *target, int expected, int value) {
  return (int)InterlockedCompareExchange((volatile LONG *)target, value, expected);
}
