/*
 * Every lock this process holds, in one list shared by all its JavaScript environments (the main
 * thread's and each worker's): so that a lock is given up exactly once, by whichever of its
 * holder, its environment's teardown or the process's exit gets there first, and so that the
 * main thread's exit cleanup can give up the locks of workers too (their PID files would
 * otherwise outlive a process ended by SIGTERM, while the main thread's are removed).
 */
#ifndef PIDGUARD_HELD_H
#define PIDGUARD_HELD_H

#include "pidguard.h"

typedef struct held_lock held_lock;

/* Error of a call on a lock already given up. */
#define PG_ERELEASED (-100)

/* Registers a lock just taken. Takes ownership of `path` (malloc'ed). `pidfile`: an exclusive PID
 * file, removed (if still ours) whenever the lock is given up other than by release(remove 0).
 * NULL when out of memory or once the process is exiting (held_exiting), and then the lock is
 * given up (its PID file removed) and `path` freed. */
held_lock *held_add(pg_handle handle, char *path, int pidfile);

/* Gives the lock up: removes the file first when `remove` (and it is still ours), then unlocks
 * and closes. PG_ERELEASED when already given up (not an error to a caller that releases twice). */
pg_result held_release(held_lock *lock, int remove);

/* pg_verify, pg_rewrite and pg_descriptor on a lock still held; PG_ERELEASED otherwise. */
pg_result held_verify(held_lock *lock, int *names);
pg_result held_rewrite(held_lock *lock, const char *text, size_t text_len);
pg_result held_descriptor(held_lock *lock, int *descriptor);

/* While `keep`, the process's exit cleanup (held_release_all) leaves this lock alone: another
 * process (`pidguard run`'s command) shares its open file description and keeps it. */
pg_result held_keep_at_exit(held_lock *lock, int keep);

/* For the lock's JavaScript handle being finalized (collected, or its environment torn down):
 * gives the lock up as its kind requires if it is still held, unregisters and frees it. */
void held_free(held_lock *lock);

/* At process exit: gives up every lock still held, in any environment, except those kept, and
 * from then on every lock registered (held_add). */
void held_release_all(void);

/* Whether held_release_all has run: the process is ending. */
int held_exiting(void);

/*
 * The stale-PID fallback's holds: a PID file that is its own lock names the process, not the
 * thread, so a file naming this process is held only while some environment of it has a hold
 * registered here (one taken, or being taken). A worker torn down takes its holds with it (their
 * JavaScript handles are finalized), and a release that could not remove its file leaves none:
 * either way the file is then stale to the rest of the process, not "already locked by this
 * process" for as long as it lives.
 */
typedef struct soft_hold soft_hold;

/* Registers a hold on `path` (copied); NULL when out of memory. */
soft_hold *soft_add(const char *path);

/* Takes a hold off the list; harmless when already taken off. Does not free it. */
void soft_remove(soft_hold *hold);

/* Takes a hold off the list if it is still on it, and frees it (its handle's finalizer). */
void soft_free(soft_hold *hold);

/* How many holds the environments of this process have on `path`. */
int soft_held(const char *path);

#endif
