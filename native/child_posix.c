/*
 * Starting `pidguard run`'s command with fork and execve, and waiting for it with waitid (see
 * child.h). Not posix_spawn: glibc's sets its two internal signals (32 and 33) to SIG_IGN in
 * the child, and an ignored signal stays ignored across exec, so a command started that way
 * would outlive a `kill -33`. After the fork the child calls only async-signal-safe functions,
 * as libuv's does: the parent has other threads, whose locks the child must not need.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pg_result fail(int err, const char *syscall) {
  pg_result result = {err, syscall};
  return result;
}

/* Descriptors 0, 1 and 2, and the lock at PG_CHILD_LOCK_FD: the ones the child is given. */
#define HANDED_ON (PG_CHILD_LOCK_FD + 1)

/* The default search path when the environment has no PATH (glibc's confstr(_CS_PATH)). */
#define DEFAULT_PATH "/bin:/usr/bin"

/* Every file the command may be at, in the order execvp(3) tries them: `file` itself when it
 * holds a slash, else each directory of PATH (taken from `envp`, as Node's spawn does; an empty
 * entry is the current directory). A NULL-terminated array; NULL when out of memory. */
static char **candidates(const char *file, char *const envp[]) {
  const char *path = DEFAULT_PATH, *dir, *next;
  size_t count = 2, n = 0, file_len = strlen(file);
  char **list;
  int i;
  for (i = 0; envp[i] != NULL; i++) {
    if (strncmp(envp[i], "PATH=", 5) == 0) path = envp[i] + 5;
  }
  if (strchr(file, '/') != NULL || file_len == 0) path = NULL;
  for (dir = path; dir != NULL && (next = strchr(dir, ':')) != NULL; dir = next + 1) count++;
  list = (char **)calloc(count, sizeof(char *));
  if (list == NULL) return NULL;
  if (path == NULL) {
    list[0] = strdup(file);
    if (list[0] == NULL) goto fail;
    return list;
  }
  for (dir = path;; dir = next + 1) {
    size_t dir_len;
    next = strchr(dir, ':');
    dir_len = next == NULL ? strlen(dir) : (size_t)(next - dir);
    list[n] = (char *)malloc(dir_len + file_len + 3);
    if (list[n] == NULL) goto fail;
    if (dir_len == 0) {
      memcpy(list[n], "./", 2);
      dir_len = 2;
    } else {
      memcpy(list[n], dir, dir_len);
      list[n][dir_len++] = '/';
    }
    memcpy(list[n] + dir_len, file, file_len + 1);
    n++;
    if (next == NULL) break;
  }
  return list;
fail:
  for (n = 0; n < count; n++) free(list[n]);
  free(list);
  return NULL;
}

static void free_candidates(char **list) {
  size_t n;
  if (list == NULL) return;
  for (n = 0; list[n] != NULL; n++) free(list[n]);
  free(list);
}

/* In the child, after the fork: async-signal-safe calls only. Waits at the gate, then executes
 * the command, or reports errno on `error_fd` and exits 127 if it cannot. */
static void exec_child(char **files, char *const argv[], char *const envp[], const int *copies, int error_fd,
                       int gate_fd) {
  struct sigaction action;
  sigset_t none;
  int target, sig, err = ENOENT, seen_eacces = 0;
  char go = 0;
  ssize_t got;
  size_t n;

  /* Every signal to its default action, then none blocked (all were blocked across the fork, so
   * no handler of the parent's could run here). Those glibc keeps for itself refuse, and exec
   * resets them anyway, since they have handlers in the parent rather than SIG_IGN. */
  memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &action, NULL);
  }
  for (target = 0; target < HANDED_ON; target++) {
    /* dup2 clears close-on-exec on the new descriptor; the copies above HANDED_ON keep it. */
    if (copies[target] >= 0 && dup2(copies[target], target) < 0) goto report;
  }
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  /* Held here until the parent has recorded this PID; end of file (the parent ended, or gave
   * the command up) means run nothing. */
  do {
    got = read(gate_fd, &go, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) _exit(127);

  /* As execvp(3) searches, without its retry under /bin/sh for a file the kernel cannot execute
   * (ENOEXEC is reported, as posix_spawnp does). */
  for (n = 0; files[n] != NULL; n++) {
    execve(files[n], argv, envp);
    switch (errno) {
      case EACCES:
        seen_eacces = 1;
        /* fall through */
      case ENOENT:
      case ENOTDIR:
      case ESTALE:
      case ENODEV:
      case ETIMEDOUT:
        err = errno;
        continue;
      default:
        goto report;
    }
  }
  errno = seen_eacces ? EACCES : err;
report:
  err = errno;
  while (write(error_fd, &err, sizeof(err)) < 0 && errno == EINTR) {
  }
  _exit(127);
}

/* Closes *fd if open, and marks it closed. */
static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* A close-on-exec pipe with both ends above the descriptors handed on (so that no dup2 in the
 * child lands on one). Only this thread, Node's JS thread, starts processes, so none can inherit
 * the pipe before the flags are set (macOS has no pipe2). 0, or an errno. */
static int high_pipe(int ends[2]) {
  int raw[2], i, err = 0;
  ends[0] = ends[1] = -1;
  if (pipe(raw) != 0) return errno;
  for (i = 0; i < 2; i++) {
    ends[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, HANDED_ON);
    if (ends[i] < 0 && err == 0) err = errno;
    close(raw[i]);
  }
  if (err != 0) {
    close_fd(&ends[0]);
    close_fd(&ends[1]);
  }
  return err;
}

pg_result pg_child_spawn(const char *file, char *const argv[], char *const envp[], int lock_fd, pg_child *child) {
  int copies[HANDED_ON], gate[2] = {-1, -1}, report[2] = {-1, -1}, target, err = 0;
  const char *syscall = "fork";
  char **files = candidates(file, envp);
  sigset_t all, saved;

  child->pid = -1;
  child->gate_fd = child->report_fd = -1;
  if (files == NULL) return fail(ENOMEM, "malloc");
  /* Node opens even its stdio close-on-exec. Each descriptor the child is given is copied above
   * the targets first, so that no dup2 in the child overwrites another's source; a stdio
   * descriptor that is not open stays closed. */
  for (target = 0; target < HANDED_ON; target++) {
    int source = target == PG_CHILD_LOCK_FD ? lock_fd : target;
    copies[target] = -1;
    if (err != 0 || source < 0) continue;
    copies[target] = fcntl(source, F_DUPFD_CLOEXEC, HANDED_ON);
    if (copies[target] < 0 && !(errno == EBADF && target != PG_CHILD_LOCK_FD)) {
      err = errno;
      syscall = "fcntl";
    }
  }
  if (err == 0 && ((err = high_pipe(gate)) != 0 || (err = high_pipe(report)) != 0)) syscall = "pipe";
  if (err == 0) {
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    child->pid = fork();
    if (child->pid == 0) {
      /* The parent's ends: a gate held open here would never read end of file. */
      close(gate[1]);
      close(report[0]);
      exec_child(files, argv, envp, copies, report[1], gate[0]);
    }
    if (child->pid < 0) err = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
  }
  close_fd(&gate[0]);
  close_fd(&report[1]);
  if (err == 0) {
    child->gate_fd = gate[1];
    child->report_fd = report[0];
  } else {
    close_fd(&gate[1]);
    close_fd(&report[0]);
  }
  for (target = 0; target < HANDED_ON; target++) close_fd(&copies[target]);
  free_candidates(files);
  if (err != 0) return fail(err, syscall);
  return fail(0, NULL);
}

pg_result pg_child_exec(pg_child *child) {
  int reported = 0;
  ssize_t done;
  /* A child already gone (a signal passed on to it) makes this fail with EPIPE: its end is the
   * waiting thread's to report, and the report pipe then reads end of file. */
  do {
    done = write(child->gate_fd, "x", 1);
  } while (done < 0 && errno == EINTR);
  close_fd(&child->gate_fd);
  do {
    done = read(child->report_fd, &reported, sizeof(reported));
  } while (done < 0 && errno == EINTR);
  close_fd(&child->report_fd);
  if (done == (ssize_t)sizeof(reported)) return fail(reported, "execve");
  return fail(0, NULL);
}

void pg_child_cancel(pg_child *child) {
  close_fd(&child->gate_fd);
  close_fd(&child->report_fd);
}

/* Blocks every signal in this thread: process-directed signals go to Node's threads, and none
 * interrupts the wait. */
static void block_signals(void) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
}

/* How `info` (from waitid) says a child ended: 1, with *code and *signal set; 0 if it did not. */
static int ended(const siginfo_t *info, int *code, int *signal) {
  switch (info->si_code) {
    case CLD_EXITED:
      *code = info->si_status;
      *signal = 0;
      return 1;
    case CLD_KILLED:
    case CLD_DUMPED:
      *code = -1;
      *signal = info->si_status;
      return 1;
    default:
      return 0;
  }
}

pg_result pg_child_wait(pid_t pid, int reap_others, int *code, int *signal) {
  siginfo_t info;
  block_signals();
  for (;;) {
    memset(&info, 0, sizeof(info));
    /* WNOWAIT: seen, not reaped; the PID stays the command's until pg_child_reap. */
    if (waitid(reap_others ? P_ALL : P_PID, reap_others ? 0 : (id_t)pid, &info, WEXITED | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      return fail(errno, "waitid");
    }
    if (info.si_pid == pid) {
      if (ended(&info, code, signal)) return fail(0, NULL);
      continue; /* not an end (WEXITED reports nothing else); look again */
    }
    /* An orphan that ended: a PID 1 must reap it, or it stays a zombie for good. */
    if (info.si_pid > 0) waitpid(info.si_pid, NULL, WNOHANG);
  }
}

void pg_child_reap(pid_t pid) {
  while (waitpid(pid, NULL, WNOHANG) < 0 && errno == EINTR) {
  }
}

void pg_child_end(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}
