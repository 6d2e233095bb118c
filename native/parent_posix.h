/*
 * Reaching the directory that holds a PID file without being led astray by another user's
 * symlink (posix.c's helper; POSIX only).
 *
 * O_NOFOLLOW guards only the last component of a path. In a shared directory such as /tmp,
 * another user can make a directory component a symlink to a directory only root may write, and
 * a root process would then create, truncate, write and remove a file there. Like systemd's
 * "unsafe path transition" rule, a symlink on the way is followed only when root or this
 * process's effective user owns it (so /var/run -> /run keeps working).
 */
#ifndef PIDGUARD_PARENT_POSIX_H
#define PIDGUARD_PARENT_POSIX_H

#include <stddef.h>

/*
 * Opens the directory holding the last component of `path` into *dir (a descriptor for openat,
 * fstatat and unlinkat; the caller closes it) and copies that last component into `name`
 * (`name_size` bytes). With `make_dirs`, a missing directory on the way is created (mode 0755,
 * less the umask), as `mkdir -p` would, but only where the walk has reached it safely. Returns 0,
 * or an error: the platform's (ENOENT, ENOTDIR, EACCES, ELOOP, ENAMETOOLONG; EISDIR for a path
 * that ends in a directory) or PG_EUNSAFE_PATH (pidguard.h).
 */
int pg_open_parent(const char *path, char *name, size_t name_size, int make_dirs, int *dir);

#endif
