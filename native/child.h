/*
 * Starting `pidguard run`'s command and learning how it ended, POSIX only (child_posix.c).
 *
 * Node's child_process cannot be used for this: libuv reaps its children itself and reports a
 * signal it has no name for (Linux's real-time signals, 32 to 64) as "exit code 0", so the true
 * wait status is lost, and a command killed by SIGRTMIN+3 would look like a success. Windows
 * keeps Node's spawn (it has no such signals), so this header has no Windows implementation.
 *
 * Like pidguard.h, nothing here knows about Node; child_binding.c converts.
 */
#ifndef PIDGUARD_CHILD_H
#define PIDGUARD_CHILD_H

#include <sys/types.h>

#include "pidguard.h"

/* The descriptor at which the command finds the inherited lock: the first after stdio. */
#define PG_CHILD_LOCK_FD 3

/*
 * Starts `file` (searched in PATH when it holds no slash) with the NULL-terminated `argv` and
 * `envp`, stdio shared with this process, every signal reset to its default action and none
 * blocked (as libuv does for its children), and, when `lock_fd` >= 0, that descriptor duplicated
 * at PG_CHILD_LOCK_FD without close-on-exec, as flock(1) hands its lock to its command. On
 * failure err is the errno that starting or executing it met (ENOENT, EACCES, ENOEXEC, ...).
 */
pg_result pg_child_spawn(const char *file, char *const argv[], char *const envp[], int lock_fd, pid_t *pid);

/*
 * Blocks until process `pid`, a child of this process, has ended, and tells how: *code is its
 * exit status and *signal 0, or *code -1 and *signal the number of the signal that killed it.
 * The child is left a zombie, not reaped, so that its PID cannot be reused before the caller
 * has stopped signalling it: pg_child_reap does that. With `reap_others` (a process that is PID 1
 * of its namespace, which inherits every orphan) every other child that ends meanwhile is
 * reaped at once. Call it on a thread of its own: it blocks every signal in that thread for the
 * rest of its life, so that process-directed signals go to Node's threads.
 */
pg_result pg_child_wait(pid_t pid, int reap_others, int *code, int *signal);

/* Reaps `pid` once pg_child_wait has seen it end (never blocks). */
void pg_child_reap(pid_t pid);

/* Kills and reaps `pid`: for a command that was started but that nothing could wait for. */
void pg_child_end(pid_t pid);

#endif
