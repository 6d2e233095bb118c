/*
 * The steps of taking a lock that differ by platform, for the one locking loop (lock.c), in the
 * shape of FreeBSD's flopen(3): open without truncating, lock, check that the path still names
 * the file locked, and only then check and write it. posix.c and win32.c each say only what
 * differs. Private to the core: binding code uses pidguard.h.
 */
#ifndef PIDGUARD_PLATFORM_H
#define PIDGUARD_PLATFORM_H

#include "pidguard.h"

/* Where the file to lock is, reached once and used by every attempt. POSIX: its directory, by a
 * walk that refuses another user's symlink on the way, and its name there; Windows: the path, in
 * UTF-16. */
#ifdef _WIN32
#include <wchar.h>
typedef struct pg_place {
  wchar_t *path;
  unsigned long attributes; /* the file's, as pg_names last saw it */
} pg_place;
#else
#include <sys/stat.h>
typedef struct pg_place {
  int dir;
  char name[256];   /* NAME_MAX + 1 */
  struct stat held; /* the file's, as pg_names last saw it */
} pg_place;
#endif

/* Reaches the place of `path` (making missing directories with PG_MKDIR, where supported). */
pg_result pg_place_open(const char *path, int flags, pg_place *place);
void pg_place_close(pg_place *place);

/* Opens the file at `place` to lock it, never truncating, creating it with PG_CREATE; *created
 * tells whether this call made it. Refuses a link at the path (ELOOP). */
pg_result pg_open_file(pg_place *place, int flags, pg_handle *handle, int *created);

/* Takes the lock (shared with PG_SHARED): at once when `state` is NULL, else waiting until it is
 * granted or pg_wait_cancel ends the wait. 0, PG_ELOCKED, PG_ECANCELED or an error number. */
int pg_take_lock(pg_handle handle, int flags, pg_wait_state *state);

/* After a failed take (`err`) of a file this call created: removes it when nobody else holds it,
 * rather than leave an empty file for a fallback or a reader to puzzle over. */
void pg_discard_created(pg_place *place, pg_handle handle, int err);

/* 1 when `place` still names the file open as `handle`, 0 when it names another file or none,
 * -1 with *error filled when that cannot be told. What it learned of the file stays in `place`,
 * for pg_write_pidfile: one look at the file, not one per step. */
int pg_names(pg_place *place, pg_handle handle, pg_result *error);

/* For an exclusive PID file, once pg_names has said it is ours: refuses one that is not a regular
 * file (PG_ENOTREG) or that may not be trusted (PG_EUNTRUSTED, where the platform has owners),
 * touching nothing; else replaces its text with `text` (truncate, then write). */
pg_result pg_write_pidfile(pg_place *place, pg_handle handle, const char *text, size_t text_len);

/* Removes the file at `place`, locked and verified as ours, that holds no valid PID after a
 * failed write. */
void pg_remove_own(pg_place *place, pg_handle handle);

/* Unlocks explicitly, then closes. */
void pg_unlock_close(pg_handle handle);

/* Fault injection for the torture suite (POSIX: PIDGUARD_FAILPOINT); nothing elsewhere. */
void pg_failpoint(const char *step);

#endif
