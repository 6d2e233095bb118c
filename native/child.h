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

/* A command's process, forked and held before its exec (see pg_child_spawn). */
typedef struct pg_child {
  pid_t pid;
  int gate_fd;   /* written to let it exec; closed unwritten, it exits without running anything */
  int report_fd; /* where it reports what its exec met; end of file when the exec succeeded */
} pg_child;

/*
 * Forks the process for `file` (searched in PATH when it holds no slash) with the
 * NULL-terminated `argv` and `envp`, stdio shared with this process, every signal reset to its
 * default action and none blocked (as libuv does for its children), and, when `lock_fd` >= 0,
 * that descriptor duplicated at PG_CHILD_LOCK_FD without close-on-exec, as flock(1) hands its
 * lock to its command. The child is held before its execve until pg_child_exec, so that its PID
 * can be recorded before it runs anything: a PID file must name the holder from the start, or a
 * pidguard killed in between would leave a dead PID in it while the command ran. If this process
 * ends first, or calls pg_child_cancel, the child exits with status 127, having run nothing.
 * err is set when the fork (or a pipe or descriptor for it) failed; nothing then runs.
 */
pg_result pg_child_spawn(const char *file, char *const argv[], char *const envp[], int lock_fd, pg_child *child);

/*
 * Lets a held child exec, and blocks until it has (err 0) or could not: err is then what its
 * exec met (ENOENT, EACCES, ENOEXEC, ...), and the child exits with status 127. Closes the
 * child's descriptors either way.
 */
pg_result pg_child_exec(pg_child *child);

/* Closes a held child's descriptors without letting it exec: it exits 127, having run nothing. */
void pg_child_cancel(pg_child *child);

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
