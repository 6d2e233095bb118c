/*
 * The floor for an uncontended PID-file lock cycle: the system calls pidguard makes, from C,
 * with nothing around them. Built by bench/cycle.mjs at bench time (cc -O2).
 *
 *   floor <path> <cycles>   prints one line per cycle: its duration in nanoseconds
 *
 * Take:    openat2(RESOLVE_NO_SYMLINKS) of the directory (O_PATH: reaching it past no other
 *          user's symlink), openat(O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW) in it,
 *          flock(LOCK_EX|LOCK_NB), fstat and fstatat (the identity check), close of the
 *          directory, geteuid (is the file this user's?), pwrite of "<pid>\n" (no ftruncate: the
 *          file is new and empty, and pidguard skips it then too).
 * Release: openat2 of the directory, fstat, fstatat (still ours?), unlinkat, close of the
 *          directory, flock(LOCK_UN), close.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct open_how_floor {
  unsigned long long flags, mode, resolve;
};

static void die(const char *what) {
  perror(what);
  exit(1);
}

static char dir_path[4096];
static char name[256];

static int open_dir(void) {
  struct open_how_floor how = {O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0x04 /* RESOLVE_NO_SYMLINKS */};
  int dir = (int)syscall(SYS_openat2, AT_FDCWD, dir_path, &how, sizeof(how));
  if (dir < 0) die("openat2");
  return dir;
}

static void cycle(const char *text, size_t len) {
  struct stat held, named;
  int dir = open_dir();
  int fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) die("openat");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) die("flock");
  if (fstat(fd, &held) != 0 || fstatat(dir, name, &named, AT_SYMLINK_NOFOLLOW) != 0) die("stat");
  if (held.st_ino != named.st_ino) die("identity");
  close(dir);
  if (held.st_uid != geteuid()) die("owner");
  if (pwrite(fd, text, len, 0) != (ssize_t)len) die("pwrite");

  dir = open_dir();
  if (fstat(fd, &held) != 0 || fstatat(dir, name, &named, AT_SYMLINK_NOFOLLOW) != 0) die("stat");
  if (held.st_ino == named.st_ino && unlinkat(dir, name, 0) != 0) die("unlink");
  close(dir);
  if (flock(fd, LOCK_UN) != 0) die("flock");
  if (close(fd) != 0) die("close");
}

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  char text[32];
  int i, cycles;
  size_t len;
  if (argc != 3) {
    fprintf(stderr, "usage: floor <path> <cycles>\n");
    return 2;
  }
  cycles = atoi(argv[2]);
  len = (size_t)snprintf(text, sizeof(text), "%d\n", (int)getpid());
  {
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", argv[1]);
    snprintf(dir_path, sizeof(dir_path), "%s", dirname(copy));
    snprintf(copy, sizeof(copy), "%s", argv[1]);
    snprintf(name, sizeof(name), "%s", basename(copy));
  }
  for (i = 0; i < 1000; i++) cycle(text, len); /* warm up */
  for (i = 0; i < cycles; i++) {
    long long start = now_ns();
    cycle(text, len);
    printf("%lld\n", now_ns() - start);
  }
  return 0;
}
