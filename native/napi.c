/*
 * The Node-API helpers every binding file uses (napi.h): failures of Node-API calls thrown as
 * errors, arguments checked and copied, core results turned into errors, functions exported.
 */
#include "napi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void throw_napi_failure(napi_env env, napi_status status) {
  const napi_extended_error_info *info = NULL;
  bool pending = false;
  const char *message = "Node-API call failed";
  (void)status;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL && info->error_message != NULL) {
    message = info->error_message;
  }
  napi_throw_error(env, "ERR_PIDGUARD_NAPI", message);
}

int get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage) {
  size_t argc = count;
  napi_status status = napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (status != napi_ok) {
    throw_napi_failure(env, status);
    return 0;
  }
  if (argc < count) {
    char message[160];
    snprintf(message, sizeof(message), "%s takes %u argument%s", usage, (unsigned)count, count == 1 ? "" : "s");
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return 0;
  }
  return 1;
}

napi_value result_error(napi_env env, pg_result result) {
  char description[256];
  napi_value error, code, message, syscall, errnum;

  pg_error_message(result.err, description, sizeof(description));
  NAPI_CALL(env, napi_create_string_utf8(env, pg_error_code(result.err), NAPI_AUTO_LENGTH, &code));
  NAPI_CALL(env, napi_create_string_utf8(env, description, NAPI_AUTO_LENGTH, &message));
  NAPI_CALL(env, napi_create_error(env, code, message, &error));
  NAPI_CALL(env, napi_create_string_utf8(env, result.syscall ? result.syscall : "", NAPI_AUTO_LENGTH, &syscall));
  NAPI_CALL(env, napi_set_named_property(env, error, "syscall", syscall));
  NAPI_CALL(env, napi_create_int32(env, result.err, &errnum));
  NAPI_CALL(env, napi_set_named_property(env, error, "errno", errnum));
  return error;
}

/* Throws the error of a failed core call; returns NULL for the caller to return. */
napi_value throw_result(napi_env env, pg_result result) {
  napi_value error = result_error(env, result);
  if (error != NULL) napi_throw(env, error);
  return NULL;
}

/* The TypeScript layer has already refused strings holding NUL. */
char *utf8_copy(napi_env env, napi_value value) {
  size_t length = 0;
  char *buffer;
  napi_status status = napi_get_value_string_utf8(env, value, NULL, 0, &length);
  if (status != napi_ok) {
    throw_napi_failure(env, status);
    return NULL;
  }
  buffer = (char *)malloc(length + 1);
  if (buffer == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  status = napi_get_value_string_utf8(env, value, buffer, length + 1, &length);
  if (status != napi_ok) {
    free(buffer);
    throw_napi_failure(env, status);
    return NULL;
  }
  return buffer;
}

int optional_utf8_copy(napi_env env, napi_value value, char **out) {
  napi_valuetype type;
  *out = NULL;
  if (napi_typeof(env, value, &type) != napi_ok) {
    throw_napi_failure(env, napi_generic_failure);
    return 0;
  }
  if (type == napi_undefined || type == napi_null) return 1;
  *out = utf8_copy(env, value);
  return *out != NULL;
}

napi_value export_function(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value fn;
  NAPI_CALL(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &fn));
  NAPI_CALL(env, napi_set_named_property(env, exports, name, fn));
  return exports;
}

napi_value export_int(napi_env env, napi_value exports, const char *name, int32_t value) {
  napi_value number;
  NAPI_CALL(env, napi_create_int32(env, value, &number));
  NAPI_CALL(env, napi_set_named_property(env, exports, name, number));
  return exports;
}
