/* Helpers shared by the napi_*.c glue files; see napi_util.h. */
#include "napi_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tsshim_napi_string(napi_env env, napi_value value) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_string) return NULL;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) return NULL;
  char *buf = malloc(len + 1);
  if (buf == NULL) return NULL;
  if (napi_get_value_string_utf8(env, value, buf, len + 1, &len) != napi_ok) {
    free(buf);
    return NULL;
  }
  return buf;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

napi_value tsshim_napi_error_value(napi_env env, const struct tsshim_error *err) {
  char msg[TSSHIM_ERR_STEP + TSSHIM_ERR_SYSCALL + TSSHIM_ERR_DETAIL + TSSHIM_ERR_PATH + 128];
  const char *errname = err->errnum != 0 ? strerrorname_np(err->errnum) : NULL;
  int n = snprintf(msg, sizeof msg, "%s", err->syscall[0] != '\0' ? err->syscall : err->step);
  if (err->detail[0] != '\0') n += snprintf(msg + n, sizeof msg - (size_t)n, " \"%s\"", err->detail);
  if (err->path[0] != '\0')
    n += snprintf(msg + n, sizeof msg - (size_t)n, "%s\"%s\"", err->detail[0] != '\0' ? " on " : " ", err->path);
  if (err->errnum != 0)
    snprintf(msg + n, sizeof msg - (size_t)n, ": %s (%s)", errname != NULL ? errname : "E?", strerror(err->errnum));
  napi_value code, message, error, num;
  napi_create_string_utf8(env, "ERR_TSSHIM_NATIVE", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err->errnum, &num);
  napi_set_named_property(env, error, "errno", num);
  set_str(env, error, "errnoName", errname != NULL ? errname : "");
  set_str(env, error, "step", err->step);
  set_str(env, error, "syscall", err->syscall);
  set_str(env, error, "detail", err->detail);
  set_str(env, error, "path", err->path);
  return error;
}

void tsshim_napi_throw(napi_env env, const struct tsshim_error *err) {
  napi_throw(env, tsshim_napi_error_value(env, err));
}

napi_value tsshim_napi_throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}
