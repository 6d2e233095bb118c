/*
 * Taking a lock, one loop for every platform (platform.h has the steps that differ): open the
 * file without truncating it, lock it, check that the path still names the file locked (a holder
 * may have removed or replaced it in between: then start again on what the path names now), and
 * only then, for an exclusive PID file, check it and write the PID. FreeBSD's flopen(3) and
 * pidfile(3) have the same shape.
 */
#include "platform.h"

/* Non-blocking: each reopen means another process made progress, so give up after a bound.
 * Waiting: each reopen follows a grant, so keep going until granted or cancelled. */
static pg_result lock_at(pg_place *place, int flags, const char *text, size_t text_len, pg_wait_state *state,
                         pg_handle *out) {
  int attempt;
  for (attempt = 0; state != NULL || attempt < PG_MAX_REOPEN; attempt++) {
    pg_handle handle;
    pg_result result;
    int created, err, names;

    result = pg_open_file(place, flags, &handle, &created);
    if (result.err != 0) return result;
    pg_failpoint("after-open");

    err = pg_take_lock(handle, flags, state);
    if (err != 0) {
      if (created) pg_discard_created(place, handle, err);
      pg_close(handle);
      result.err = err;
      result.syscall = "flock";
      return result;
    }
    pg_failpoint("after-lock");

    names = pg_names(place, handle, &result);
    if (names < 0) {
      pg_unlock_close(handle);
      return result;
    }
    if (names == 0) {
      /* The holder we raced removed or replaced the file before we locked it: the lock we hold
       * is on a file nobody will look at. Start again on whatever the path names now. */
      pg_unlock_close(handle);
      continue;
    }

    if (flags & PG_PIDFILE) {
      /* Checked only now, on the file locked and verified: a file this call created passes. */
      result = pg_write_pidfile(place, handle, text, text_len);
      if (result.err != 0) {
        /* Written and failed: the file is ours (locked and verified) and holds no valid PID, so
         * it goes rather than stay empty. Refused: never touched. */
        if (result.err != PG_ENOTREG && result.err != PG_EUNTRUSTED) pg_remove_own(place, handle);
        pg_unlock_close(handle);
        return result;
      }
    }

    *out = handle;
    result.err = 0;
    result.syscall = NULL;
    return result;
  }
  {
    pg_result contended = {PG_ELOCKED, "flock"};
    return contended;
  }
}

static pg_result lock_path(const char *path, int flags, const char *text, size_t text_len, pg_wait_state *state,
                           pg_handle *out) {
  pg_place place;
  pg_result result = pg_place_open(path, flags, &place);
  if (result.err != 0) return result;
  result = lock_at(&place, flags, text, text_len, state, out);
  pg_place_close(&place);
  return result;
}

pg_result pg_lock(const char *path, int flags, const char *text, size_t text_len, pg_handle *out) {
  return lock_path(path, flags, text, text_len, NULL, out);
}

pg_result pg_lock_wait(const char *path, int flags, const char *text, size_t text_len, pg_wait_state *state,
                       pg_handle *out) {
  return lock_path(path, flags, text, text_len, state, out);
}
