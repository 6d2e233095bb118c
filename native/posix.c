/*
 * POSIX (Linux, macOS, the BSDs): flock(2) on the whole file.
 *
 * flock rather than fcntl locks: an fcntl lock belongs to the process and vanishes when any of
 * its descriptors of the file closes (a readFileSync of the PID file would drop it); flock belongs
 * to the open file description and is what flock(1) and shell scripts use. The shape follows
 * FreeBSD's flopen(3)/pidfile(3): open without O_TRUNC, lock, check that the path still names the
 * locked inode, and only then touch the contents.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* flock() and LOCK_* under -std=c11 with glibc */
#endif
#ifndef _DARWIN_C_SOURCE
#define _DARWIN_C_SOURCE
#endif

#include "parent_posix.h"
#include "platform.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Fault injection for the torture suite (torture/steps.mjs): when the environment variable
 * PIDGUARD_FAILPOINT names a step, the process stops itself there with SIGSTOP, so that the suite
 * can SIGKILL it at exactly that point of acquire or release. Read once; unset, it costs a load
 * and a branch per step. */
static const char *failpoint_step;
static pthread_once_t failpoint_once = PTHREAD_ONCE_INIT;

static void read_failpoint(void) {
  failpoint_step = getenv("PIDGUARD_FAILPOINT");
}

void pg_failpoint(const char *step) {
  pthread_once(&failpoint_once, read_failpoint);
  if (failpoint_step != NULL && strcmp(failpoint_step, step) == 0) raise(SIGSTOP);
}

static pg_result ok(void) {
  pg_result r = {0, NULL};
  return r;
}

static pg_result failure(int err, const char *syscall) {
  pg_result r = {err, syscall};
  return r;
}

/* Every open of a path that someone else may have put there. O_NOFOLLOW: no symlink at the last
 * step. O_NONBLOCK: a read-only open of a FIFO would otherwise wait for a writer, for ever (it
 * does nothing to a regular file, whose reads and writes never block in the sense it changes).
 * O_NOCTTY: a terminal device there must not become the controlling terminal of a session leader
 * (a daemon), whose hangups and Ctrl-C it would then receive. */
#define OPEN_SAFELY (O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)

static int open_nointr(const char *path, int oflag) {
  int fd;
  do {
    fd = open(path, oflag, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

static int openat_nointr(int dir, const char *name, int oflag) {
  int fd;
  do {
    fd = openat(dir, name, oflag, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

static int flock_nointr(int fd, int operation) {
  int rc;
  do {
    rc = flock(fd, operation);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

/* Unlocks explicitly before closing: if a forked child still shares the open file description,
 * close alone would leave the lock with the child. */
static void unlock_and_close(int fd) {
  flock_nointr(fd, LOCK_UN);
  close(fd);
}

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* 1 when the entry names the file open as `held`, 0 when it names another file or nothing,
 * -1 (errno set) when that cannot be told. */
static int entry_names(const pg_place *at, const struct stat *held) {
  struct stat named;
  if (fstatat(at->dir, at->name, &named, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : -1;
  return same_file(held, &named);
}

/* Whether a PID file may be trusted (src/trust.ts holds the same rule, and the words): owned by
 * this user or root, writable by no other user, and reached by this one name only. */
static int trusted_pid_file(const struct stat *st) {
  if (st->st_uid != geteuid() && st->st_uid != 0) return 0;
  if (st->st_mode & S_IWOTH) return 0;
  if ((st->st_mode & S_IWGRP) && st->st_gid != getegid() && st->st_gid != 0) return 0;
  return st->st_nlink <= 1;
}

/* Truncates, then writes: a reader sees an empty file or the whole text, never a mix of the old
 * and new PIDs that `kill $(cat pidfile)` would act on. A file found empty (the usual case: the
 * last holder removed it) needs no truncation, which on ext4 costs a journalled orphan-list
 * update, several times the rest of the lock. */
static pg_result replace_text(int fd, off_t size, const char *text, size_t len) {
  size_t done = 0;
  while (size > 0 && ftruncate(fd, 0) != 0) {
    if (errno != EINTR) return failure(errno, "ftruncate");
  }
  pg_failpoint("before-write");
  while (done < len) {
    ssize_t n = pwrite(fd, text + done, len - done, (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failure(errno, "write");
    }
    done += (size_t)n;
  }
  return ok();
}

/* How many times open_for_lock goes round when the file appears and vanishes between its two
 * opens: each round means another process created or removed it, so a bound keeps a storm from
 * turning into a spin, and past it the caller sees the last error. */
#define MAX_CREATE_ROUNDS 64

/* Opens for locking; with O_CREAT, tells (in *created) whether this call made the file, so that
 * a file made only to find that locks are refused is not left behind. */
static int open_for_lock(const pg_place *at, int oflag, int *created) {
  int round;
  *created = 0;
  if (!(oflag & O_CREAT)) return openat_nointr(at->dir, at->name, oflag);
  for (round = 0;; round++) {
    int fd = openat_nointr(at->dir, at->name, oflag | O_EXCL);
    if (fd >= 0) {
      *created = 1;
      return fd;
    }
    if (errno != EEXIST) return -1;
    fd = openat_nointr(at->dir, at->name, oflag);
    if (fd >= 0) return fd;
    /* ENOENT (or NFS's ESTALE) after EEXIST: the file that was there was removed or replaced in
     * between, which FUSE and NFS report this way under churn. The directory exists (the
     * exclusive create met a file in it): look again. */
    if ((errno != ENOENT && errno != ESTALE) || round + 1 >= MAX_CREATE_ROUNDS) return -1;
  }
}

/* The file system offers no flock here (an NFS mount without a lock manager, some FUSE and SMB
 * mounts): the caller may fall back to PID-file semantics. */
static int locks_unsupported(int err) {
  return err == ENOLCK || err == EOPNOTSUPP || err == ENOTSUP || err == ENOSYS;
}

/* The longest pause between two attempts of a polling wait: the most a cancel waits for it. */
#define POLL_MAX_NS 10000000L

/* A wait that no signal of ours can interrupt (wake_posix.c: the application handles every
 * real-time signal): polls, doubling its pause from 1 ms to 10 ms, and sees a cancel at the next
 * pause. Slower to notice a release than a blocking flock, but never left behind. */
static int poll_lock(int fd, int operation, pg_wait_state *state) {
  long pause_ns = 1000000L;
  for (;;) {
    struct timespec pause;
    if (__atomic_load_n(&state->cancelled, __ATOMIC_SEQ_CST)) return PG_ECANCELED;
    if (flock_nointr(fd, operation | LOCK_NB) == 0) return 0;
    if (errno != EWOULDBLOCK) return errno;
    pause.tv_sec = 0;
    pause.tv_nsec = pause_ns;
    nanosleep(&pause, NULL);
    if (pause_ns < POLL_MAX_NS) pause_ns = pause_ns * 2 > POLL_MAX_NS ? POLL_MAX_NS : pause_ns * 2;
  }
}

/* Takes the lock on fd: at once (state NULL), or waiting until it is granted or cancelled.
 * Returns 0, PG_ELOCKED, PG_ECANCELED or an errno. */
static int take_lock(int fd, int operation, pg_wait_state *state) {
  if (state == NULL) {
    if (flock_nointr(fd, operation | LOCK_NB) == 0) return 0;
    return errno == EWOULDBLOCK ? PG_ELOCKED : errno;
  }
  if (!pg_wait_interruptible()) {
    int err = poll_lock(fd, operation, state);
    if (err == 0 && __atomic_load_n(&state->cancelled, __ATOMIC_SEQ_CST)) {
      flock_nointr(fd, LOCK_UN);
      return PG_ECANCELED;
    }
    return err;
  }
  for (;;) {
    int rc, err;
    /* Announce the block, then look for a cancel: with pg_wait_cancel doing the opposite, one of
     * the two always sees the other (sequentially consistent stores and loads). */
    __atomic_store_n(&state->blocked, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&state->cancelled, __ATOMIC_SEQ_CST)) {
      __atomic_store_n(&state->blocked, 0, __ATOMIC_SEQ_CST);
      return PG_ECANCELED;
    }
    rc = flock(fd, operation);
    err = errno;
    __atomic_store_n(&state->blocked, 0, __ATOMIC_SEQ_CST);
    if (rc == 0) {
      /* Granted after a cancel that could not interrupt the wait (wake_posix.c): nobody waits
       * for this lock any more, so give it back at once, before anything is written. */
      if (__atomic_load_n(&state->cancelled, __ATOMIC_SEQ_CST)) {
        flock_nointr(fd, LOCK_UN);
        return PG_ECANCELED;
      }
      return 0;
    }
    if (err != EINTR) return err;
    /* EINTR: a cancel, or some other signal; the top of the loop tells which. */
  }
}

/*
 * Removes the empty file this call created and will not hold, rather than leave it for a fallback
 * (on a file system without locks) or a reader to puzzle over: a wait cancelled just after the
 * previous holder removed the file would otherwise leave an empty one behind. Another process may
 * have opened it meanwhile: where locks exist, it is removed only under an exclusive lock taken
 * without waiting (a holder's is never touched; a waiter on it is granted an unlinked file, which
 * its identity check sends back to the path). The caller's close lets the lock go.
 */
static void discard_created(const pg_place *at, int fd, int lockable) {
  struct stat st;
  if (lockable && flock_nointr(fd, LOCK_EX | LOCK_NB) != 0) return;
  if (fstat(fd, &st) == 0 && st.st_size == 0 && entry_names(at, &st) == 1) unlinkat(at->dir, at->name, 0);
}

pg_result pg_place_open(const char *path, int flags, pg_place *place) {
  int err = pg_open_parent(path, place->name, sizeof(place->name), (flags & PG_MKDIR) != 0, &place->dir);
  return err == 0 ? ok() : failure(err, (flags & PG_MKDIR) && err != PG_EUNSAFE_PATH ? "mkdir" : "open");
}

void pg_place_close(pg_place *place) {
  close(place->dir);
}

pg_result pg_open_file(pg_place *place, int flags, pg_handle *handle, int *created) {
  int access = (flags & PG_PIDFILE) ? O_RDWR : O_RDONLY; /* flock needs no write access */
  int oflag = access | OPEN_SAFELY | ((flags & PG_CREATE) ? O_CREAT : 0);
  *handle = open_for_lock(place, oflag, created);
  /* A socket at the path, which open refuses with ENXIO, is "not a regular file", as a FIFO or
   * a device is. */
  if (*handle < 0) return failure(errno == ENXIO ? PG_ENOTREG : errno, "open");
  return ok();
}

int pg_take_lock(pg_handle fd, int flags, pg_wait_state *state) {
  return take_lock(fd, (flags & PG_SHARED) ? LOCK_SH : LOCK_EX, state);
}

void pg_discard_created(pg_place *place, pg_handle fd, int err) {
  if (locks_unsupported(err)) discard_created(place, fd, 0);
  if (err == PG_ECANCELED) discard_created(place, fd, 1);
}

int pg_names(pg_place *place, pg_handle fd, pg_result *error) {
  int names;
  if (fstat(fd, &place->held) != 0) {
    *error = failure(errno, "fstat");
    return -1;
  }
  names = entry_names(place, &place->held);
  if (names < 0) *error = failure(errno, "lstat");
  return names;
}

pg_result pg_write_pidfile(pg_place *place, pg_handle fd, const char *text, size_t text_len) {
  if (!S_ISREG(place->held.st_mode)) return failure(PG_ENOTREG, "open");
  if (!trusted_pid_file(&place->held)) return failure(PG_EUNTRUSTED, "open");
  return replace_text(fd, place->held.st_size, text, text_len);
}

void pg_remove_own(pg_place *place, pg_handle fd) {
  (void)fd; /* locked and verified just now: the entry is this file */
  unlinkat(place->dir, place->name, 0);
}

void pg_unlock_close(pg_handle fd) {
  unlock_and_close(fd);
}

/* Where `path` is now, for a holder about to touch it; 0 when it names nothing this process may
 * touch (gone, or reached through another user's symlink since): the held file is not there. */
static int relocate(const char *path, pg_place *at, pg_result *error) {
  int err = pg_open_parent(path, at->name, sizeof(at->name), 0, &at->dir);
  if (err == 0) return 1;
  if (err != ENOENT && err != ENOTDIR && err != PG_EUNSAFE_PATH) *error = failure(err, "open");
  return 0;
}

pg_result pg_unlock(pg_handle fd, const char *path) {
  pg_result result = ok();
  pg_place at;

  if (path != NULL && relocate(path, &at, &result)) {
    struct stat held;
    int names;
    if (fstat(fd, &held) != 0) {
      result = failure(errno, "fstat");
    } else if ((names = entry_names(&at, &held)) < 0) {
      result = failure(errno, "lstat");
    } else if (names == 1) {
      pg_failpoint("before-unlink");
      if (unlinkat(at.dir, at.name, 0) != 0) result = failure(errno, "unlink");
      pg_failpoint("before-unlock");
    }
    /* names == 0: the path was removed or now names another holder's file; leave it alone. */
    close(at.dir);
  }
  unlock_and_close(fd);
  return result;
}

void pg_close(pg_handle fd) {
  close(fd);
}

pg_result pg_rewrite(pg_handle fd, const char *text, size_t text_len) {
  struct stat held;
  if (fstat(fd, &held) != 0) return failure(errno, "fstat");
  return replace_text(fd, held.st_size, text, text_len);
}

pg_result pg_verify(pg_handle fd, const char *path, int *names) {
  pg_result result = ok();
  struct stat held;
  pg_place at;
  *names = 0;
  if (fstat(fd, &held) != 0) return failure(errno, "fstat");
  if (!relocate(path, &at, &result)) return result;
  if ((*names = entry_names(&at, &held)) < 0) result = failure(errno, "lstat");
  close(at.dir);
  return result;
}

int pg_descriptor(pg_handle fd) {
  return fd;
}

int pg_process_start_time(int pid, double *started_ms) {
  (void)pid;
  (void)started_ms;
  return ENOSYS; /* Linux callers read /proc/<pid>/stat; no other POSIX system is tested here */
}

pg_result pg_probe(const char *path, pg_probe_state *state) {
  int fd = open_nointr(path, O_RDONLY | OPEN_SAFELY);
  if (fd < 0) {
    if (errno == ENOENT) {
      *state = PG_PROBE_MISSING;
      return ok();
    }
    return failure(errno, "open");
  }
  if (flock_nointr(fd, LOCK_SH | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err != EWOULDBLOCK) return failure(err, "flock");
    *state = PG_PROBE_LOCKED;
    return ok();
  }
  unlock_and_close(fd);
  *state = PG_PROBE_UNLOCKED;
  return ok();
}

pg_result pg_open_to_read(const char *path, int *fd) {
  pg_place at;
  pg_result result = pg_place_open(path, 0, &at);
  if (result.err != 0) return result;
  *fd = openat_nointr(at.dir, at.name, O_RDONLY | OPEN_SAFELY);
  if (*fd < 0) result = failure(errno, "open");
  close(at.dir);
  return result;
}

pg_result pg_read_opened(int fd, char *buffer, size_t size, size_t *length, pg_file_facts *facts) {
  struct stat st;
  ssize_t got;
  *length = 0;
  if (fstat(fd, &st) != 0) return failure(errno, "fstat");
  facts->dev = (unsigned long long)st.st_dev;
  facts->ino = (unsigned long long)st.st_ino;
  facts->nlink = (unsigned long long)st.st_nlink;
  facts->mode = (unsigned int)st.st_mode;
  facts->uid = (unsigned int)st.st_uid;
  facts->gid = (unsigned int)st.st_gid;
#ifdef __APPLE__
  facts->mtime_ns = (long long)st.st_mtimespec.tv_sec * 1000000000LL + st.st_mtimespec.tv_nsec;
#else
  facts->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
#endif
  if (!S_ISREG(st.st_mode)) return ok();
  do {
    got = pread(fd, buffer, size, 0);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return failure(errno, "read");
  *length = (size_t)got;
  return ok();
}

void pg_close_descriptor(int fd) {
  /* After an EINTR the descriptor is gone on Linux: closing it again could close another's. */
  close(fd);
}

#ifdef __linux__
/* The numbers are the same on every architecture (the unified table of Linux 5.1 on), for C
 * libraries whose headers predate the calls. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

pg_result pg_process_open(int pid, int *fd) {
  long opened = pid > 0 ? syscall(SYS_pidfd_open, pid, 0) : (errno = ESRCH, -1L); /* close-on-exec */
  *fd = (int)opened;
  if (opened >= 0) return ok();
  /* ENOSYS before Linux 5.3; EPERM where a seccomp policy (a container's) refuses the call. */
  return failure(errno == EPERM ? ENOSYS : errno, "pidfd_open");
}

pg_result pg_process_signal(int fd, int signal) {
  return syscall(SYS_pidfd_send_signal, fd, signal, NULL, 0) == 0 ? ok() : failure(errno, "pidfd_send_signal");
}
#else
pg_result pg_process_open(int pid, int *fd) {
  (void)pid;
  *fd = -1;
  return failure(ENOSYS, "pidfd_open");
}

pg_result pg_process_signal(int fd, int signal) {
  (void)fd;
  (void)signal;
  return failure(ENOSYS, "pidfd_send_signal");
}
#endif

pg_result pg_locks_supported(const char *path, int *supported) {
  struct flock question;
  int fd = open_nointr(path, O_RDONLY | OPEN_SAFELY);
  if (fd < 0) return failure(errno == ENXIO ? PG_ENOTREG : errno, "open");
  memset(&question, 0, sizeof(question));
  question.l_type = F_WRLCK;
  question.l_whence = SEEK_SET; /* l_start 0, l_len 0: the whole file */
  /* F_GETLK only reports a conflicting POSIX lock; it takes none. Where flock is refused for
   * want of a lock manager (NFS) or by the file system (FUSE), POSIX locks are refused too, and
   * with the same errors: flock on NFS is emulated with them. */
  if (fcntl(fd, F_GETLK, &question) != 0) {
    int err = errno;
    close(fd);
    if (!locks_unsupported(err)) return failure(err, "fcntl");
    *supported = 0;
    return ok();
  }
  close(fd);
  *supported = 1;
  return ok();
}

typedef struct errno_name {
  int err;
  const char *code;
} errno_name;

/* The errors a lock call can meet; anything else is reported as UNKNOWN with its description. */
static const errno_name errno_names[] = {
    {EACCES, "EACCES"},   {EPERM, "EPERM"},         {ENOENT, "ENOENT"},   {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"},   {ELOOP, "ELOOP"},         {EROFS, "EROFS"},     {ENOSPC, "ENOSPC"},
    {EIO, "EIO"},         {EMFILE, "EMFILE"},       {ENFILE, "ENFILE"},   {ENAMETOOLONG, "ENAMETOOLONG"},
    {EINVAL, "EINVAL"},   {EBADF, "EBADF"},         {ENOLCK, "ENOLCK"},   {ENOSYS, "ENOSYS"},
    {EOPNOTSUPP, "EOPNOTSUPP"}, {ENOTSUP, "ENOTSUP"}, {EAGAIN, "EAGAIN"}, {EINTR, "EINTR"},
    {EEXIST, "EEXIST"},   {EBUSY, "EBUSY"},         {ENXIO, "ENXIO"},     {ETXTBSY, "ETXTBSY"},
    {EFBIG, "EFBIG"},     {EOVERFLOW, "EOVERFLOW"}, {ENOMEM, "ENOMEM"},   {EXDEV, "EXDEV"},
    {EDQUOT, "EDQUOT"},   {ESTALE, "ESTALE"},       {ENODEV, "ENODEV"},   {ESRCH, "ESRCH"},
};

const char *pg_error_code(int err) {
  size_t i;
  if (err == PG_ELOCKED) return "ELOCKED";
  if (err == PG_ENOTREG) return "EINVAL";
  if (err == PG_ECANCELED) return "ECANCELED";
  if (err == PG_EUNTRUSTED || err == PG_EUNSAFE_PATH) return "EPERM";
  for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++) {
    if (errno_names[i].err == err) return errno_names[i].code;
  }
  return "UNKNOWN";
}

void pg_error_message(int err, char *buf, size_t buf_len) {
  const char *text;
  if (buf_len == 0) return;
  if (err == PG_ELOCKED) {
    text = "locked by another holder";
  } else if (err == PG_ENOTREG) {
    text = "not a regular file";
  } else if (err == PG_ECANCELED) {
    text = "wait cancelled";
  } else if (err == PG_EUNTRUSTED) {
    text = "operation not permitted: the PID file is another user's, writable by others, or has a second hard link";
  } else if (err == PG_EUNSAFE_PATH) {
    text = "operation not permitted: the path crosses a symlink that another user owns";
  } else {
    text = strerror(err); /* called on the JS thread only; glibc/BSD strerror is fine there */
  }
  strncpy(buf, text, buf_len - 1);
  buf[buf_len - 1] = '\0';
}
