/*
 * The floor for pidguard's plain lock() cycle on an existing data file: the system calls it makes
 * (strace of lockSync + release), from C, with nothing around them. Built by bench/plain-cycle.mjs.
 *
 *   floor-plain <path> <cycles>   prints one line per cycle: its duration in nanoseconds
 *
 * Take:    lstat (is it a symlink to follow?), open of the directory (O_PATH), openat of the file
 *          (O_RDONLY|O_NOFOLLOW|O_CLOEXEC), flock(LOCK_EX|LOCK_NB), fstat and fstatat (the
 *          identity check), close of the directory.
 * Release: flock(LOCK_UN), close. The file is never written, truncated or removed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
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

static void cycle(const char *path, const char *dir, const char *name) {
  struct stat link, held, named;
  int dirfd, fd;
  if (lstat(path, &link) != 0) die("lstat");
  dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) die("open dir");
  fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) die("openat");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) die("flock");
  if (fstat(fd, &held) != 0 || fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) != 0) die("stat");
  if (held.st_ino != named.st_ino) die("identity");
  if (close(dirfd) != 0) die("close dir");

  if (flock(fd, LOCK_UN) != 0) die("flock");
  if (close(fd) != 0) die("close");
}

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  char *dircopy, *namecopy;
  const char *dir, *name;
  int i, cycles;
  if (argc != 3) {
    fprintf(stderr, "usage: floor-plain <path> <cycles>\n");
    return 2;
  }
  cycles = atoi(argv[2]);
  dircopy = strdup(argv[1]);
  namecopy = strdup(argv[1]);
  dir = dirname(dircopy);
  name = basename(namecopy);
  for (i = 0; i < 1000; i++) cycle(argv[1], dir, name); /* warm up */
  for (i = 0; i < cycles; i++) {
    long long start = now_ns();
    cycle(argv[1], dir, name);
    printf("%lld\n", now_ns() - start);
  }
  return 0;
}
