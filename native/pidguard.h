/*
 * pidguard's platform-neutral core: take, hold and give up a kernel lock on a file.
 *
 * One implementation per platform (posix.c: flock(2); win32.c: LockFileEx) sits behind this
 * header; binding.c only converts JavaScript arguments to these calls and results back.
 * Nothing here allocates, keeps global state or knows about Node.
 */
#ifndef PIDGUARD_H
#define PIDGUARD_H

#include <stddef.h>

#ifdef _WIN32
typedef void *pg_handle; /* a HANDLE from CreateFileW */
#else
#include <pthread.h>
typedef int pg_handle; /* a file descriptor */
#endif

/*
 * What it takes to end a blocking wait from another thread. The waiting thread fills it in
 * (pg_wait_begin); any other thread may then call pg_wait_cancel.
 * POSIX: the waiter's pthread, which pg_wait_cancel interrupts with a signal nobody else
 * handles (wake_posix.c; a handler without SA_RESTART, so the blocking flock returns EINTR), as
 * flock(1) does for its timeout.
 * Windows: the waiter's thread handle, for CancelSynchronousIo. A waiter granted the lock after
 * a cancel gives it back at once, before writing anything, since nobody may wait for it.
 */
typedef struct pg_wait_state {
  volatile int cancelled; /* set once by pg_wait_cancel; read by the waiter */
  volatile int blocked;   /* 1 while the waiter is inside the region that may block */
#ifdef _WIN32
  void *thread;
#else
  pthread_t thread;
#endif
} pg_wait_state;

/* Flags for pg_lock. */
#define PG_SHARED 1  /* a shared (reader) lock instead of an exclusive one */
#define PG_CREATE 2  /* create the file when it is missing */
#define PG_PIDFILE 4 /* require a regular file; once locked and verified, replace its text */
#define PG_MKDIR 8   /* create missing directories on the way, as mkdir -p (POSIX; ignored on Windows) */

/* Errors of our own, beside the platform's numbers (errno, or GetLastError() on Windows). */
#define PG_ELOCKED (-1) /* another open file holds a conflicting lock */
#define PG_ENOTREG (-2) /* a PID file that is not a regular file (FIFO, device, ...) */
#define PG_ECANCELED (-3) /* a wait ended by pg_wait_cancel */
#define PG_EUNTRUSTED (-4) /* a PID file another user owns or can write, or one with a second hard link */
#define PG_EUNSAFE_PATH (-5) /* a symlink on the way to the file that another user owns */

/* How many times pg_lock reopens the path when the file it locked is no longer the one the path
 * names (a holder removed or replaced it between our open and our lock). Each retry means another
 * process made progress; past this many the path is churning and we report contention. */
#define PG_MAX_REOPEN 64

/* Outcome of a call: err is 0 on success, else PG_E* or a platform error number; syscall names
 * the call that failed, for the error message. */
typedef struct pg_result {
  int err;
  const char *syscall;
} pg_result;

/* What pg_probe found at a path. */
typedef enum pg_probe_state {
  PG_PROBE_MISSING = 0,  /* no file there */
  PG_PROBE_UNLOCKED = 1, /* a file nobody holds exclusively */
  PG_PROBE_LOCKED = 2    /* a file with an exclusive lock on it */
} pg_probe_state;

/*
 * Opens `path` without following a final symlink and without truncating, takes the lock without
 * waiting, and checks that the path still names the file it locked (reopening when not). With
 * PG_PIDFILE it then truncates the file and writes `text` (`text_len` bytes) at offset 0.
 * On success *out holds the open, locked file; on PG_ELOCKED nothing is left open.
 */
pg_result pg_lock(const char *path, int flags, const char *text, size_t text_len, pg_handle *out);

/*
 * Prepares `state`, zeroed by its creator before the waiting thread starts (so that a cancel may
 * come first), for a wait by the calling thread. Call it on the thread that will wait.
 */
void pg_wait_begin(pg_wait_state *state);

/*
 * pg_lock, but waiting for the lock: blocks until the kernel grants it (no polling) or until
 * pg_wait_cancel(state) is called from another thread, which ends it with PG_ECANCELED and leaves
 * nothing open. The same identity check applies once the lock is granted.
 */
pg_result pg_lock_wait(const char *path, int flags, const char *text, size_t text_len, pg_wait_state *state,
                       pg_handle *out);

/*
 * Ends a wait in pg_lock_wait from another thread. Returns 1 once the waiter has left any
 * blocking call: it no longer touches the file, though it may still be finishing (the caller
 * joins it). Returns 0 when the blocking call could not be interrupted (Wine, or a Windows
 * driver without cancellation; on POSIX, no free signal to interrupt it with, or an
 * application's handler installed over ours): the waiter then stays blocked until the kernel
 * grants the lock, gives it straight back and returns PG_ECANCELED, so the caller must not wait
 * for it. Never blocks for long: it bounds its own attempts.
 */
int pg_wait_cancel(pg_wait_state *state);

/*
 * POSIX: whether a wait started now can be interrupted by pg_wait_cancel (a wake signal of
 * pidguard's own is installed). When not, the waiter polls instead of blocking.
 */
int pg_wait_interruptible(void);

/*
 * Frees what pg_wait_begin took, once the waiting thread has been joined.
 */
void pg_wait_end(pg_wait_state *state);

/*
 * Gives the lock up. When `path` is not NULL, first removes it, while still locked, if it still
 * names the file held. Then unlocks and closes; the handle is closed whatever the result says.
 */
pg_result pg_unlock(pg_handle handle, const char *path);

/*
 * Closes the handle without unlocking: for a lock whose open file description another process
 * shares and keeps (`pidguard run`'s command), which an explicit unlock would take from it.
 */
void pg_close(pg_handle handle);

/*
 * Replaces the text of a held PID file (truncate, then write, as pg_lock does): for a holder that
 * records another process's PID, such as the command it started.
 */
pg_result pg_rewrite(pg_handle handle, const char *text, size_t text_len);

/*
 * Whether `path` still names the file held: *names is 1, or 0 when it names another file or
 * nothing (a holder whose PID file was removed or replaced behind its back has lost it).
 */
pg_result pg_verify(pg_handle handle, const char *path, int *names);

/*
 * The held file as a POSIX file descriptor, for a child process to inherit so that the lock
 * lasts as long as the child; -1 where a handle is not a descriptor (Windows).
 */
int pg_descriptor(pg_handle handle);

/*
 * Tells whether an exclusive lock is held on `path` by briefly taking a shared one. This can make
 * a concurrent non-waiting exclusive acquirer fail, so Linux callers read /proc/locks instead.
 */
pg_result pg_probe(const char *path, pg_probe_state *state);

/*
 * Opens `path` to read it (a PID file looked at, not locked), reaching it as pg_lock does: no
 * symlink another user owns on the way (PG_EUNSAFE_PATH), none at the end (ELOOP), a FIFO never
 * waited on (O_NONBLOCK). POSIX: *fd is a descriptor for the caller to read and close. Windows:
 * ENOSYS (the caller opens it itself).
 */
pg_result pg_open_to_read(const char *path, int *fd);

/* What a read of an opened PID file found out about the file itself (fstat's answer). */
typedef struct pg_file_facts {
  unsigned long long dev, ino, nlink;
  unsigned int mode, uid, gid;
  long long mtime_ns; /* when it was last written, by the file system's clock */
} pg_file_facts;

/*
 * Reads a descriptor from pg_open_to_read: its facts, and up to `size` bytes from its start into
 * `buffer` (*length; 0 for anything but a regular file, which is not read). The addon reads what
 * it opened: a runtime's own file functions need not know a descriptor they did not open (Deno's
 * do not). Windows: ENOSYS, as there.
 */
pg_result pg_read_opened(int fd, char *buffer, size_t size, size_t *length, pg_file_facts *facts);

/* Closes a descriptor from pg_open_to_read or pg_process_open. */
void pg_close_descriptor(int fd);

/*
 * Pins process `pid` (Linux: a pidfd), so that a signal sent through it reaches that process or
 * nobody: once it has ended, never one that was given its PID since (`pidguard stop` proves the
 * holder after pinning it). ESRCH: no such process. ENOSYS where there is no such handle (other
 * systems, Linux before 5.3, Windows): the caller signals by PID.
 */
pg_result pg_process_open(int pid, int *fd);

/* Sends `signal` to the process pinned by pg_process_open; ESRCH once it has ended. */
pg_result pg_process_signal(int fd, int signal);

/*
 * Whether the file system holding `path` gives locks at all (*supported 1) or refuses them
 * (*supported 0: ENOLCK, EOPNOTSUPP, ... as an NFS mount without a lock manager answers), told
 * without taking any lock: POSIX asks F_GETLK, which only tests. Windows always gives them.
 */
pg_result pg_locks_supported(const char *path, int *supported);

/*
 * When process `pid` started, in milliseconds since 1970 (Windows: GetProcessTimes), for the
 * stale-PID fallback to tell a reused PID from its holder. 0 on success; else an error number:
 * no such process, access denied, or ENOSYS where the core does not tell (POSIX, where Linux
 * callers read /proc instead).
 */
int pg_process_start_time(int pid, double *started_ms);

/* The error's code as Node spells it ("ENOENT", "ELOCKED", ...). */
const char *pg_error_code(int err);

/* A human description of the error, written into buf (always NUL-terminated). */
void pg_error_message(int err, char *buf, size_t buf_len);

#endif
