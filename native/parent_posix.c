/*
 * pg_open_parent (parent_posix.h): the directory holding a PID file, reached one component at a
 * time, each opened relative to the one before, so that no component can be swapped for a
 * symlink between a check and its use.
 *
 * Linux first asks openat2(2) with RESOLVE_NO_SYMLINKS for the whole directory path in one call:
 * the common case (no symlink on the way) costs one system call. Where the path has a symlink,
 * or the kernel has no openat2 (before 5.6, or a seccomp filter refusing it), the walk below
 * follows each symlink only after checking who owns it: on Linux through an O_PATH descriptor of
 * the link itself, so the owner checked is the owner of the link read; elsewhere with fstatat and
 * readlinkat, which leaves a window in which the link could be replaced by its directory's owner.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif

#include "parent_posix.h"
#include "pidguard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/syscall.h>
#endif

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Symlinks followed in one resolution before giving up with ELOOP, as Linux's own limit. */
#define MAX_SYMLINKS 40

#if defined(O_PATH)
#define DIR_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)
#define COMPONENT_FLAGS (O_PATH | O_NOFOLLOW | O_CLOEXEC)
#elif defined(O_SEARCH)
#define DIR_FLAGS (O_SEARCH | O_DIRECTORY | O_CLOEXEC)
#else
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#endif

#ifndef O_PATH
static int open_dir_at(int at, const char *name) {
  int fd;
  do {
    fd = openat(at, name, DIR_FLAGS | O_NOFOLLOW);
  } while (fd < 0 && errno == EINTR);
  return fd;
}
#endif

/* Whether a file owned by `uid` is root's or this process's. */
static int trusted_owner(uid_t uid) {
  return uid == 0 || uid == geteuid();
}

/* Whether the symlink `link`, found in directory `dir`, may be followed: owned by root or this
 * user, and either in a directory of theirs too or reached by this one name. A link has a second
 * name when someone hard-linked it, and anyone may hard-link root's /var/run into a directory of
 * their own where fs.protected_hardlinks is off (the kernel's default): it would still be root's
 * link, but placed, and so aimed, by someone else. */
static int trusted_link(int dir, const struct stat *link) {
  struct stat holder;
  if (!trusted_owner(link->st_uid)) return 0;
  if (link->st_nlink <= 1) return 1;
  return fstat(dir, &holder) == 0 && trusted_owner(holder.st_uid);
}

/* The next component of the path at *rest: its length, with *rest moved past it and the slashes
 * after it. *last is 1 when nothing follows it. */
static size_t next_component(const char **rest, const char **start, int *last) {
  const char *p = *rest;
  size_t length;
  while (*p == '/') p++;
  *start = p;
  while (p[0] != '\0' && p[0] != '/') p++;
  length = (size_t)(p - *start);
  while (*p == '/') p++;
  *rest = p;
  *last = *p == '\0';
  return length;
}

/* What a component turned out to be: a directory (*dir replaced), or a symlink whose target is
 * in `target`. Returns 0 or an error. */
enum { IS_DIRECTORY = 1, IS_SYMLINK = 2 };

static int step(int *dir, const char *component, char *target, size_t target_size, int *kind) {
  struct stat st;
  ssize_t length;
#ifdef O_PATH
  int fd;
  do {
    fd = openat(*dir, component, COMPONENT_FLAGS);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return err;
  }
  if (S_ISDIR(st.st_mode)) {
    close(*dir);
    *dir = fd;
    *kind = IS_DIRECTORY;
    return 0;
  }
  if (!S_ISLNK(st.st_mode)) {
    close(fd);
    return ENOTDIR;
  }
  if (!trusted_link(*dir, &st)) {
    close(fd);
    return PG_EUNSAFE_PATH;
  }
  length = readlinkat(fd, "", target, target_size); /* the link the owner check was made on */
  close(fd);
#else
  if (fstatat(*dir, component, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  if (S_ISDIR(st.st_mode)) {
    int next = open_dir_at(*dir, component);
    if (next < 0) return errno;
    close(*dir);
    *dir = next;
    *kind = IS_DIRECTORY;
    return 0;
  }
  if (!S_ISLNK(st.st_mode)) return ENOTDIR;
  if (!trusted_link(*dir, &st)) return PG_EUNSAFE_PATH;
  length = readlinkat(*dir, component, target, target_size);
#endif
  if (length < 0) return errno;
  if ((size_t)length >= target_size) return ENAMETOOLONG;
  target[length] = '\0';
  *kind = IS_SYMLINK;
  return 0;
}

/* step(), creating the component as a directory first when it is missing and `make_dirs`. */
static int step_or_make(int *dir, const char *component, int make_dirs, char *target, size_t target_size, int *kind) {
  int err = step(dir, component, target, target_size, kind);
  if (err != ENOENT || !make_dirs) return err;
  if (mkdirat(*dir, component, 0755) != 0 && errno != EEXIST) return errno;
  return step(dir, component, target, target_size, kind);
}

static int walk(const char *path, char *name, size_t name_size, int make_dirs, int *out) {
  char pending[2 * PATH_MAX + 2]; /* what is left to resolve */
  char target[PATH_MAX + 1];
  const char *rest;
  int dir, links = 0;

  if (strlen(path) >= sizeof(pending)) return ENAMETOOLONG;
  strcpy(pending, path);
  dir = open(path[0] == '/' ? "/" : ".", DIR_FLAGS);
  if (dir < 0) return errno;
  rest = pending;
  for (;;) {
    const char *component;
    char piece[NAME_MAX + 1];
    int last, kind = 0, err;
    size_t length = next_component(&rest, &component, &last);

    if (length == 0) { /* the path ended in a slash or is "/" itself: no file name */
      close(dir);
      return EISDIR;
    }
    if (length > NAME_MAX) {
      close(dir);
      return ENAMETOOLONG;
    }
    memcpy(piece, component, length);
    piece[length] = '\0';
    if (last) {
      if (length >= name_size) {
        close(dir);
        return ENAMETOOLONG;
      }
      memcpy(name, piece, length + 1);
      *out = dir;
      return 0;
    }
    err = step_or_make(&dir, piece, make_dirs, target, sizeof(target), &kind);
    if (err != 0) {
      close(dir);
      return err;
    }
    if (kind == IS_DIRECTORY) continue;
    /* A symlink: resolve its target, then what followed it, from its own directory (or from
     * the root, for an absolute target). */
    if (++links > MAX_SYMLINKS) {
      close(dir);
      return ELOOP;
    }
    {
      char joined[sizeof(pending)];
      size_t target_length = strlen(target), rest_length = strlen(rest);
      if (target_length + 1 + rest_length >= sizeof(joined)) {
        close(dir);
        return ENAMETOOLONG;
      }
      memcpy(joined, target, target_length);
      joined[target_length] = '/';
      memcpy(joined + target_length + 1, rest, rest_length + 1);
      memcpy(pending, joined, target_length + 1 + rest_length + 1);
      rest = pending;
    }
    if (target[0] == '/') {
      int root = open("/", DIR_FLAGS);
      if (root < 0) {
        err = errno;
        close(dir);
        return err;
      }
      close(dir);
      dir = root;
    }
  }
}

#if defined(__linux__) && defined(SYS_openat2)
/* struct open_how and RESOLVE_NO_SYMLINKS, as <linux/openat2.h> has them, for older headers. */
struct pg_open_how {
  unsigned long long flags;
  unsigned long long mode;
  unsigned long long resolve;
};
#define PG_RESOLVE_NO_SYMLINKS 0x04

/* The directory of `path` in one openat2 call when no symlink is on the way; -1 otherwise. */
static int open_parent_without_links(const char *path, char *name, size_t name_size) {
  char dir_path[PATH_MAX];
  struct pg_open_how how;
  const char *slash = strrchr(path, '/');
  size_t dir_length, name_length;
  long fd;
  if (path[0] != '/' || slash == NULL) return -1;
  dir_length = slash == path ? 1 : (size_t)(slash - path);
  name_length = strlen(slash + 1);
  if (dir_length >= sizeof(dir_path) || name_length == 0 || name_length >= name_size) return -1;
  memcpy(dir_path, path, dir_length);
  dir_path[dir_length] = '\0';
  memset(&how, 0, sizeof(how));
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = PG_RESOLVE_NO_SYMLINKS;
  do {
    fd = syscall(SYS_openat2, AT_FDCWD, dir_path, &how, sizeof(how));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return -1; /* ELOOP (a symlink on the way), ENOSYS, EPERM from seccomp, ...: walk */
  memcpy(name, slash + 1, name_length + 1);
  return (int)fd;
}
#endif

int pg_open_parent(const char *path, char *name, size_t name_size, int make_dirs, int *dir) {
#if defined(__linux__) && defined(SYS_openat2)
  int fd = open_parent_without_links(path, name, name_size);
  if (fd >= 0) {
    *dir = fd;
    return 0;
  }
#endif
  return walk(path, name, name_size, make_dirs, dir);
}
