/*
 * Windows: LockFileEx on one byte far past the PID text.
 *
 * Windows byte-range locks are mandatory: a lock over the PID would stop every other process
 * from reading it, so the locked byte sits at PG_LOCK_OFFSET, where no PID file ever reaches.
 * The file is opened with FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE so that others
 * can read the PID and so that it can be removed while open; identity is the volume serial
 * number and file index, the Windows counterpart of st_dev and st_ino.
 *
 * Built by `npm run build:win32` (mingw-w64) and tested under Wine (`npm run test:windows`).
 */
#include "platform.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_LOCK_OFFSET_HIGH 0x40000000u /* 2^62: far beyond any PID text */
#define PG_LOCK_OFFSET_LOW 0u

/* FileDispositionInfoEx (Windows 10 1709+), spelled out: older SDKs and mingw lack some of it. */
#define PG_DISPOSITION_DELETE 0x00000001
#define PG_DISPOSITION_POSIX_SEMANTICS 0x00000002
#define PG_FILE_DISPOSITION_INFO_EX ((FILE_INFO_BY_HANDLE_CLASS)21)
typedef struct pg_disposition_ex {
  DWORD Flags;
} pg_disposition_ex;

static pg_result ok(void) {
  pg_result r = {0, NULL};
  return r;
}

static pg_result failure(int err, const char *syscall) {
  pg_result r = {err, syscall};
  return r;
}

static pg_result last_failure(const char *syscall) {
  return failure((int)GetLastError(), syscall);
}

/* UTF-8 to a new UTF-16 string (free() it), or NULL with the last error set. */
static wchar_t *widen(const char *path) {
  int count = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
  wchar_t *wide;
  if (count <= 0) return NULL;
  wide = (wchar_t *)malloc(sizeof(wchar_t) * (size_t)count);
  if (wide == NULL) {
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return NULL;
  }
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wide, count) <= 0) {
    free(wide);
    return NULL;
  }
  return wide;
}

static OVERLAPPED lock_range(void) {
  OVERLAPPED where;
  memset(&where, 0, sizeof(where));
  where.Offset = PG_LOCK_OFFSET_LOW;
  where.OffsetHigh = PG_LOCK_OFFSET_HIGH;
  return where;
}

static void unlock_and_close(HANDLE file) {
  OVERLAPPED where = lock_range();
  UnlockFileEx(file, 0, 1, 0, &where);
  CloseHandle(file);
}

/* FILE_ID_INFO (Windows 8 / Server 2012 and later), spelled out for older SDKs and mingw. */
#define PG_FILE_ID_INFO ((FILE_INFO_BY_HANDLE_CLASS)18)
typedef struct pg_file_id_info {
  ULONGLONG VolumeSerialNumber;
  BYTE FileId[16];
} pg_file_id_info;

/* Which file a handle is: the volume serial number and file ID, the counterpart of st_dev and
 * st_ino. The 128-bit ID where the file system gives it (ReFS does not promise that its 64-bit
 * index is unique); else the 64-bit index (FAT, older Windows, Wine without FileIdInfo). */
typedef struct pg_identity {
  ULONGLONG volume;
  BYTE id[16];
} pg_identity;

static int identify(HANDLE file, pg_identity *identity) {
  pg_file_id_info wide_id;
  BY_HANDLE_FILE_INFORMATION info;
  memset(identity, 0, sizeof(*identity));
  if (GetFileInformationByHandleEx(file, PG_FILE_ID_INFO, &wide_id, sizeof(wide_id))) {
    identity->volume = wide_id.VolumeSerialNumber;
    memcpy(identity->id, wide_id.FileId, sizeof(identity->id));
    return 1;
  }
  if (!GetFileInformationByHandle(file, &info)) return 0;
  identity->volume = info.dwVolumeSerialNumber;
  memcpy(identity->id, &info.nFileIndexLow, sizeof(info.nFileIndexLow));
  memcpy(identity->id + sizeof(info.nFileIndexLow), &info.nFileIndexHigh, sizeof(info.nFileIndexHigh));
  return 1;
}

static int same_file(const pg_identity *a, const pg_identity *b) {
  return a->volume == b->volume && memcmp(a->id, b->id, sizeof(a->id)) == 0;
}

/* 1 when `path` names the file identified as `held`, 0 when another file or none, -1 on error
 * (last error set). Opens the path itself, not a reparse point's target, asking for no access. */
static int path_names(const wchar_t *path, const pg_identity *held) {
  pg_identity named;
  DWORD err;
  HANDLE probe = CreateFileW(path, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                             FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
  if (probe == INVALID_HANDLE_VALUE) {
    err = GetLastError();
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND || err == ERROR_ACCESS_DENIED) {
      /* ACCESS_DENIED is what a file pending deletion answers: it is not ours any more. */
      return 0;
    }
    return -1;
  }
  if (!identify(probe, &named)) {
    err = GetLastError();
    CloseHandle(probe);
    SetLastError(err);
    return -1;
  }
  CloseHandle(probe);
  return same_file(held, &named);
}

static pg_result replace_text(HANDLE file, const char *text, size_t len) {
  LARGE_INTEGER zero;
  OVERLAPPED at_start;
  DWORD written = 0;
  zero.QuadPart = 0;
  if (!SetFilePointerEx(file, zero, NULL, FILE_BEGIN) || !SetEndOfFile(file)) return last_failure("ftruncate");
  memset(&at_start, 0, sizeof(at_start));
  if (!WriteFile(file, text, (DWORD)len, &written, &at_start)) return last_failure("write");
  if (written != (DWORD)len) return failure(ERROR_HANDLE_DISK_FULL, "write");
  return ok();
}

/* The longest name a file may have on NTFS, ReFS and FAT (in UTF-16 units). */
#define PG_NAME_MAX 255

/* Renames the held file, through its handle, to a name of its own in the same directory, so that
 * `path` is free at once even though the file's removal waits for its last handle to close. No
 * harm when it fails: the name then stays until then, as it would have. The name is
 * ".<base>.<pid>.<thread>.<tick>.deleted", with the base cut short to keep within PG_NAME_MAX. */
static void move_aside(HANDLE file, const wchar_t *path) {
  const wchar_t *base = path, *p;
  wchar_t suffix[64];
  size_t base_len, suffix_len, name_len;
  FILE_RENAME_INFO *rename_info;
  DWORD size;
  for (p = path; *p != L'\0'; p++) {
    if (*p == L'\\' || *p == L'/') base = p + 1;
  }
  _snwprintf(suffix, sizeof(suffix) / sizeof(suffix[0]), L".%lu.%lu.%lu.deleted", (unsigned long)GetCurrentProcessId(),
             (unsigned long)GetCurrentThreadId(), (unsigned long)(GetTickCount64() & 0xFFFFFFFFu));
  suffix[sizeof(suffix) / sizeof(suffix[0]) - 1] = L'\0';
  suffix_len = wcslen(suffix);
  base_len = wcslen(base);
  if (1 + base_len + suffix_len > PG_NAME_MAX) base_len = PG_NAME_MAX - 1 - suffix_len;
  name_len = 1 + base_len + suffix_len;
  size = (DWORD)(sizeof(FILE_RENAME_INFO) + (name_len + 1) * sizeof(wchar_t));
  rename_info = (FILE_RENAME_INFO *)calloc(1, size);
  if (rename_info == NULL) return;
  /* A bare name, no directory: renamed within the directory it is in. */
  rename_info->FileName[0] = L'.';
  memcpy(rename_info->FileName + 1, base, base_len * sizeof(wchar_t));
  memcpy(rename_info->FileName + 1 + base_len, suffix, (suffix_len + 1) * sizeof(wchar_t));
  rename_info->ReplaceIfExists = FALSE;
  rename_info->RootDirectory = NULL;
  rename_info->FileNameLength = (DWORD)(name_len * sizeof(wchar_t));
  SetFileInformationByHandle(file, FileRenameInfo, rename_info, size);
  free(rename_info);
}

/* Removes the file through our own handle, so only the file we hold can be removed. POSIX
 * semantics free the name at once (Windows 10 1709 and later, on NTFS). Elsewhere (FAT, exFAT,
 * some SMB servers, older Windows; Wine) a removed file keeps its name until its last handle
 * closes, and while it does, opening it fails ("delete pending") or, under Wine, finds the dying
 * file: so it is first renamed aside, and the path is free for the next holder at once. */
static int remove_by_handle(HANDLE file, const wchar_t *path) {
  pg_disposition_ex posix_delete;
  FILE_DISPOSITION_INFO classic_delete;
  posix_delete.Flags = PG_DISPOSITION_DELETE | PG_DISPOSITION_POSIX_SEMANTICS;
  if (SetFileInformationByHandle(file, PG_FILE_DISPOSITION_INFO_EX, &posix_delete, sizeof(posix_delete))) return 1;
  if (path != NULL) move_aside(file, path);
  classic_delete.DeleteFile = TRUE;
  return SetFileInformationByHandle(file, FileDispositionInfo, &classic_delete, sizeof(classic_delete)) != 0;
}

/* Removes the empty file this call created and will not hold (a wait cancelled just after the
 * previous holder removed the file), under an exclusive lock taken without waiting, so that a
 * file another process got first is never touched. The caller closes the handle. */
static void discard_created(HANDLE file, const wchar_t *path) {
  OVERLAPPED where = lock_range();
  LARGE_INTEGER size;
  if (!LockFileEx(file, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &where)) return;
  if (GetFileSizeEx(file, &size) && size.QuadPart == 0) remove_by_handle(file, path);
  where = lock_range();
  UnlockFileEx(file, 0, 1, 0, &where);
}

static int is_lock_conflict(DWORD err) {
  return err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING || err == ERROR_SHARING_VIOLATION;
}

static int cancelled(pg_wait_state *state) {
  return InterlockedCompareExchange((volatile LONG *)&state->cancelled, 0, 0) != 0;
}

/* Takes the lock: at once (state NULL), or waiting until granted or cancelled. A waiting
 * LockFileEx on a synchronous handle blocks the thread; CancelSynchronousIo ends it with
 * ERROR_OPERATION_ABORTED where the driver supports it. Where it does not (Wine), the wait goes
 * on after pg_wait_cancel has given up on it, so a lock granted after a cancel is given back
 * here. Returns 0, PG_ELOCKED, PG_ECANCELED or a Windows error. */
static int take_lock(HANDLE file, DWORD lock_flags, pg_wait_state *state) {
  OVERLAPPED where = lock_range();
  if (state == NULL) {
    DWORD err;
    if (LockFileEx(file, lock_flags | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &where)) return 0;
    err = GetLastError();
    return is_lock_conflict(err) ? PG_ELOCKED : (int)err;
  }
  for (;;) {
    BOOL granted;
    DWORD err;
    InterlockedExchange((volatile LONG *)&state->blocked, 1);
    if (cancelled(state)) {
      InterlockedExchange((volatile LONG *)&state->blocked, 0);
      return PG_ECANCELED;
    }
    where = lock_range();
    granted = LockFileEx(file, lock_flags, 0, 1, 0, &where);
    err = GetLastError();
    InterlockedExchange((volatile LONG *)&state->blocked, 0);
    if (granted && cancelled(state)) {
      where = lock_range();
      UnlockFileEx(file, 0, 1, 0, &where);
      return PG_ECANCELED;
    }
    if (granted) return 0;
    if (err != ERROR_OPERATION_ABORTED) return (int)err;
  }
}

pg_result pg_place_open(const char *path, int flags, pg_place *place) {
  (void)flags; /* PG_MKDIR: the directories are made beforehand (src/kernel/acquire.ts) */
  place->path = widen(path);
  place->attributes = 0;
  return place->path == NULL ? last_failure("open") : ok();
}

void pg_place_close(pg_place *place) {
  free(place->path);
}

pg_result pg_open_file(pg_place *place, int flags, pg_handle *handle, int *created) {
  DWORD disposition = (flags & PG_CREATE) ? OPEN_ALWAYS : OPEN_EXISTING;
  DWORD access = (flags & PG_PIDFILE) ? (GENERIC_READ | GENERIC_WRITE | DELETE) : GENERIC_READ;
  BY_HANDLE_FILE_INFORMATION info;
  HANDLE file = CreateFileW(place->path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                            disposition, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (file == INVALID_HANDLE_VALUE) return last_failure("open");
  *created = disposition == OPEN_ALWAYS && GetLastError() != ERROR_ALREADY_EXISTS;
  if (!GetFileInformationByHandle(file, &info)) {
    pg_result r = last_failure("fstat");
    CloseHandle(file);
    return r;
  }
  if (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
    /* The counterpart of O_NOFOLLOW: a link planted at the path is refused, its target kept. */
    CloseHandle(file);
    return failure(ERROR_CANT_RESOLVE_FILENAME, "open");
  }
  *handle = file;
  return ok();
}

int pg_take_lock(pg_handle file, int flags, pg_wait_state *state) {
  return take_lock(file, (flags & PG_SHARED) ? 0 : LOCKFILE_EXCLUSIVE_LOCK, state);
}

void pg_discard_created(pg_place *place, pg_handle file, int err) {
  if (err == PG_ECANCELED) discard_created(file, place->path);
}

int pg_names(pg_place *place, pg_handle file, pg_result *error) {
  BY_HANDLE_FILE_INFORMATION held;
  pg_identity identity;
  int names;
  if (!GetFileInformationByHandle(file, &held) || !identify(file, &identity)) {
    *error = last_failure("fstat");
    return -1;
  }
  place->attributes = held.dwFileAttributes;
  names = path_names(place->path, &identity);
  if (names < 0) *error = last_failure("lstat");
  return names;
}

pg_result pg_write_pidfile(pg_place *place, pg_handle file, const char *text, size_t text_len) {
  if (place->attributes & FILE_ATTRIBUTE_DIRECTORY) return failure(PG_ENOTREG, "open");
  return replace_text(file, text, text_len); /* Windows has no owners to trust or distrust here: ACLs decide */
}

void pg_remove_own(pg_place *place, pg_handle file) {
  remove_by_handle(file, place->path);
}

void pg_unlock_close(pg_handle file) {
  unlock_and_close(file);
}

void pg_failpoint(const char *step) {
  (void)step; /* the torture suite's failpoints stop the process with SIGSTOP: POSIX only */
}

void pg_wait_begin(pg_wait_state *state) {
  HANDLE self = NULL;
  DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &self, 0, FALSE,
                  DUPLICATE_SAME_ACCESS);
  state->thread = self;
}

/* How long pg_wait_cancel keeps asking CancelSynchronousIo before it gives up on a wait: the
 * only gap on Windows is the waiter's few instructions between announcing the block and entering
 * LockFileEx, so a wait still blocked after this cannot be cancelled. */
#define PG_CANCEL_PATIENCE_MS 50

int pg_wait_cancel(pg_wait_state *state) {
  ULONGLONG give_up = GetTickCount64() + PG_CANCEL_PATIENCE_MS;
  InterlockedExchange((volatile LONG *)&state->cancelled, 1);
  while (InterlockedCompareExchange((volatile LONG *)&state->blocked, 0, 0)) {
    if (state->thread != NULL) CancelSynchronousIo((HANDLE)state->thread);
    if (GetTickCount64() >= give_up) return 0;
    Sleep(1);
  }
  return 1;
}

int pg_wait_interruptible(void) {
  return 1; /* CancelSynchronousIo, where the driver honours it; else the waiter is left to its thread */
}

void pg_wait_end(pg_wait_state *state) {
  if (state->thread != NULL) CloseHandle((HANDLE)state->thread);
  state->thread = NULL;
}

pg_result pg_unlock(pg_handle file, const char *path) {
  pg_result result = ok();
  if (path != NULL) {
    wchar_t *wide = widen(path); /* NULL (out of memory): removed all the same, not moved aside */
    if (!remove_by_handle(file, wide)) result = last_failure("unlink");
    free(wide);
  }
  unlock_and_close(file);
  return result;
}

void pg_close(pg_handle file) {
  CloseHandle(file);
}

pg_result pg_rewrite(pg_handle file, const char *text, size_t text_len) {
  return replace_text(file, text, text_len);
}

pg_result pg_verify(pg_handle file, const char *path, int *names) {
  pg_identity held;
  wchar_t *wide;
  if (!identify(file, &held)) return last_failure("fstat");
  wide = widen(path);
  if (wide == NULL) return last_failure("lstat");
  *names = path_names(wide, &held);
  free(wide);
  if (*names < 0) return last_failure("lstat");
  return ok();
}

int pg_descriptor(pg_handle file) {
  (void)file; /* a HANDLE; Node passes only CRT descriptors to a child */
  return -1;
}

/* FILETIME counts 100 ns intervals since 1601; this many of them lie before 1970. */
#define PG_FILETIME_UNIX_EPOCH 116444736000000000ULL

int pg_process_start_time(int pid, double *started_ms) {
  FILETIME created, exited, kernel, user;
  ULARGE_INTEGER ticks;
  HANDLE process;
  if (pid <= 0) return ERROR_INVALID_PARAMETER;
  process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
  if (process == NULL) return (int)GetLastError();
  if (!GetProcessTimes(process, &created, &exited, &kernel, &user)) {
    int err = (int)GetLastError();
    CloseHandle(process);
    return err;
  }
  CloseHandle(process);
  ticks.LowPart = created.dwLowDateTime;
  ticks.HighPart = created.dwHighDateTime;
  *started_ms = (double)(ticks.QuadPart - PG_FILETIME_UNIX_EPOCH) / 10000.0;
  return 0;
}

pg_result pg_open_to_read(const char *path, int *fd) {
  (void)path;
  *fd = -1;
  return failure(ERROR_CALL_NOT_IMPLEMENTED, "open"); /* Node opens it: a HANDLE is no descriptor */
}

pg_result pg_read_opened(int fd, char *buffer, size_t size, size_t *length, pg_file_facts *facts) {
  (void)fd;
  (void)buffer;
  (void)size;
  (void)facts;
  *length = 0;
  return failure(ERROR_CALL_NOT_IMPLEMENTED, "read"); /* nothing is opened by pg_open_to_read here */
}

void pg_close_descriptor(int fd) { (void)fd; }

pg_result pg_process_open(int pid, int *fd) {
  (void)pid;
  *fd = -1;
  return failure(ERROR_CALL_NOT_IMPLEMENTED, "OpenProcess"); /* a HANDLE is no descriptor: signalled by PID */
}

pg_result pg_process_signal(int fd, int signal) {
  (void)fd;
  (void)signal;
  return failure(ERROR_CALL_NOT_IMPLEMENTED, "TerminateProcess");
}

pg_result pg_locks_supported(const char *path, int *supported) {
  (void)path;
  *supported = 1; /* every Windows file system pidguard can open gives LockFileEx */
  return ok();
}

pg_result pg_probe(const char *path, pg_probe_state *state) {
  OVERLAPPED where = lock_range();
  wchar_t *wide = widen(path);
  HANDLE file;
  if (wide == NULL) return last_failure("open");
  file = CreateFileW(wide, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                     FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  free(wide);
  if (file == INVALID_HANDLE_VALUE) {
    DWORD err = GetLastError();
    if (err == ERROR_FILE_NOT_FOUND) {
      *state = PG_PROBE_MISSING;
      return ok();
    }
    return failure((int)err, "open");
  }
  if (!LockFileEx(file, LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &where)) {
    DWORD err = GetLastError();
    CloseHandle(file);
    if (!is_lock_conflict(err)) return failure((int)err, "flock");
    *state = PG_PROBE_LOCKED;
    return ok();
  }
  unlock_and_close(file);
  *state = PG_PROBE_UNLOCKED;
  return ok();
}

typedef struct win_error_name {
  DWORD err;
  const char *code;
} win_error_name;

/* Windows errors under the POSIX codes a Node programmer checks for. */
static const win_error_name win_error_names[] = {
    {ERROR_FILE_NOT_FOUND, "ENOENT"},        {ERROR_PATH_NOT_FOUND, "ENOENT"},
    {ERROR_INVALID_DRIVE, "ENOENT"},         {ERROR_ACCESS_DENIED, "EACCES"},
    {ERROR_SHARING_VIOLATION, "EBUSY"},      {ERROR_LOCK_VIOLATION, "EBUSY"},
    {ERROR_WRITE_PROTECT, "EROFS"},          {ERROR_DISK_FULL, "ENOSPC"},
    {ERROR_HANDLE_DISK_FULL, "ENOSPC"},      {ERROR_DIRECTORY, "ENOTDIR"},
    {ERROR_INVALID_NAME, "EINVAL"},          {ERROR_FILENAME_EXCED_RANGE, "ENAMETOOLONG"},
    {ERROR_TOO_MANY_OPEN_FILES, "EMFILE"},   {ERROR_NOT_ENOUGH_MEMORY, "ENOMEM"},
    {ERROR_NOT_SUPPORTED, "ENOTSUP"},        {ERROR_INVALID_FUNCTION, "ENOSYS"},
    {ERROR_CANT_RESOLVE_FILENAME, "ELOOP"},  {ERROR_NO_UNICODE_TRANSLATION, "EINVAL"},
    {ERROR_INVALID_PARAMETER, "EINVAL"},     {ERROR_NOT_READY, "EIO"},
    {ERROR_CALL_NOT_IMPLEMENTED, "ENOSYS"},
};

const char *pg_error_code(int err) {
  size_t i;
  if (err == PG_ELOCKED) return "ELOCKED";
  if (err == PG_ENOTREG) return "EISDIR";
  if (err == PG_ECANCELED) return "ECANCELED";
  for (i = 0; i < sizeof(win_error_names) / sizeof(win_error_names[0]); i++) {
    if ((int)win_error_names[i].err == err) return win_error_names[i].code;
  }
  return "UNKNOWN";
}

void pg_error_message(int err, char *buf, size_t buf_len) {
  DWORD length;
  if (buf_len == 0) return;
  if (err == PG_ELOCKED) {
    snprintf(buf, buf_len, "locked by another holder");
    return;
  }
  if (err == PG_ENOTREG) {
    snprintf(buf, buf_len, "not a regular file");
    return;
  }
  if (err == PG_ECANCELED) {
    snprintf(buf, buf_len, "wait cancelled");
    return;
  }
  length = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, (DWORD)err, 0, buf,
                          (DWORD)buf_len, NULL);
  if (length == 0) {
    snprintf(buf, buf_len, "Windows error %d", err);
    return;
  }
  while (length > 0 && (buf[length - 1] == '\n' || buf[length - 1] == '\r' || buf[length - 1] == '.')) {
    buf[--length] = '\0';
  }
}
