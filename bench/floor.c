/*
 * The floor for an uncontended PID-file lock cycle: the system calls pidguard makes, from C,
 * with nothing around them. Built by bench/cycle.mjs at bench time (cc -O2).
 *
 *   floor <path> <cycles>   prints one line per cycle: its duration in nanoseconds
 *
 * Take:    open(O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW), flock(LOCK_EX|LOCK_NB), fstat, lstat
 *          (the identity check), pwrite of "<pid>\n" (no ftruncate: the file is new and empty,
 *          and pidguard skips it then too).
 * Release: fstat, lstat (still ours?), unlink, flock(LOCK_UN), close.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void cycle(const char *path, const char *text, size_t len) {
  struct stat held, named;
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) die("open");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) die("flock");
  if (fstat(fd, &held) != 0 || lstat(path, &named) != 0) die("stat");
  if (held.st_ino != named.st_ino) die("identity");
  if (pwrite(fd, text, len, 0) != (ssize_t)len) die("pwrite");

  if (fstat(fd, &held) != 0 || lstat(path, &named) != 0) die("stat");
  if (held.st_ino == named.st_ino && unlink(path) != 0) die("unlink");
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
  for (i = 0; i < 1000; i++) cycle(argv[1], text, len); /* warm up */
  for (i = 0; i < cycles; i++) {
    long long start = now_ns();
    cycle(argv[1], text, len);
    printf("%lld\n", now_ns() - start);
  }
  return 0;
}
