/*
 * Ending a blocked wait from another thread on POSIX (pg_wait_begin, pg_wait_cancel and
 * pg_wait_end of pidguard.h).
 *
 * A thread blocked in flock(2) leaves it only when granted or interrupted by a signal whose
 * handler has no SA_RESTART, as flock(1) does with SIGALRM for its timeout. The signal is sent
 * with pthread_kill to pidguard's own wait threads only, never to the process.
 *
 * Which signal: the application's signal handlers are the application's. pidguard takes, once
 * per process, a real-time signal nobody handles (from the top of the range down, since
 * libraries that take one usually start from SIGRTMIN), and never replaces a handler it finds.
 * Before each kick it checks that the handler is still its own: an application (or a native
 * library it loads) may install one later, perhaps with SA_RESTART, which would restart the
 * flock instead of ending it, and that handler must not be run by a kick of ours either.
 * Whenever a kick cannot be sent, or a bounded number of kicks has not got the waiter out,
 * pg_wait_cancel says so and the caller leaves the waiter to its thread (wait.c), which gives
 * the lock back when it is granted: nothing spins on the JavaScript thread. A wait that starts
 * with no signal of ours to end it does not block at all (pg_wait_interruptible): it polls
 * (posix.c), so that a cancel ends it within one pause instead of leaving a thread behind.
 */
#include "pidguard.h"

#include <signal.h>
#include <string.h>
#include <time.h>

/* Kicks before giving the waiter up to its thread: each lands within microseconds unless the
 * waiter was just entering flock, so a handful always suffices when the signal is ours. */
#define MAX_KICKS 50

/* The signal chosen; 0 when none was free. Written once, under pthread_once. */
static int wake_signal;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void wake_handler(int signo) {
  (void)signo; /* interrupting the blocking flock is all it is for */
}

static int is_default(const struct sigaction *action) {
  return !(action->sa_flags & SA_SIGINFO) && action->sa_handler == SIG_DFL;
}

static int handler_is_ours(int signo) {
  struct sigaction current;
  if (sigaction(signo, NULL, &current) != 0) return 0;
  return !(current.sa_flags & (SA_SIGINFO | SA_RESTART)) && current.sa_handler == wake_handler;
}

/* Installs the wake handler on `signo` if nobody handles it; 1 when it did. There is no
 * compare-and-set for a signal's action: the installing call itself reports what it replaced,
 * and if another thread installed a handler between the look and the install, that handler is
 * put back at once and the signal left to it. */
static int take_if_free(int signo) {
  struct sigaction current, action, replaced;
  if (sigaction(signo, NULL, &current) != 0 || !is_default(&current)) return 0;
  memset(&action, 0, sizeof(action));
  action.sa_handler = wake_handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0; /* no SA_RESTART: the interrupted flock must return EINTR */
  if (sigaction(signo, &action, &replaced) != 0) return 0;
  if (is_default(&replaced)) return 1;
  sigaction(signo, &replaced, NULL);
  return 0;
}

static void choose_wake_signal(void) {
#ifdef SIGRTMIN
  int signo;
  for (signo = SIGRTMAX; signo >= SIGRTMIN; signo--) {
    if (take_if_free(signo)) {
      wake_signal = signo;
      return;
    }
  }
#else
  /* No real-time signals (macOS): SIGURG, whose default is to be ignored. */
  if (take_if_free(SIGURG)) wake_signal = SIGURG;
#endif
}

void pg_wait_begin(pg_wait_state *state) {
  pthread_once(&choose_once, choose_wake_signal);
  if (wake_signal != 0) {
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, wake_signal);
    pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
  }
  /* cancelled and blocked were zeroed by whoever made the state: a cancel may already be in. */
  state->thread = pthread_self();
}

int pg_wait_interruptible(void) {
  pthread_once(&choose_once, choose_wake_signal);
  return wake_signal != 0 && handler_is_ours(wake_signal);
}

void pg_wait_end(pg_wait_state *state) {
  (void)state; /* a pthread_t needs no closing */
}

int pg_wait_cancel(pg_wait_state *state) {
  const struct timespec pause = {0, 200000}; /* 0.2 ms between kicks */
  int kicks;
  __atomic_store_n(&state->cancelled, 1, __ATOMIC_SEQ_CST);
  /* A kick can land just before the waiter enters flock, where it changes nothing; so kick
   * until the waiter reports that it has left the blocking region, or give up. */
  for (kicks = 0; __atomic_load_n(&state->blocked, __ATOMIC_SEQ_CST); kicks++) {
    if (kicks >= MAX_KICKS || wake_signal == 0 || !handler_is_ours(wake_signal)) return 0;
    pthread_kill(state->thread, wake_signal);
    nanosleep(&pause, NULL);
  }
  return 1;
}
