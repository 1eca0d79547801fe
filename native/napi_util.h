/* Helpers shared by the napi_*.c glue files. */
#ifndef TSSHIM_NAPI_UTIL_H
#define TSSHIM_NAPI_UTIL_H

#include <node_api.h>

#include "error.h"

/* A malloc'd UTF-8 copy of a JS string; NULL when the value is not a string. */
char *tsshim_napi_string(napi_env env, napi_value value);

/* Throws a JS Error for a native error record: code "ERR_TSSHIM_NATIVE", the
 * fields errno/step/syscall/detail/path as properties, and a readable message
 * such as  mount "proc" on "/proc": ENOENT (No such file or directory). */
void tsshim_napi_throw(napi_env env, const struct tsshim_error *err);

/* Throws a TypeError with code ERR_INVALID_ARG_TYPE; returns NULL for `return tsshim_napi_throw_type(...)`. */
napi_value tsshim_napi_throw_type(napi_env env, const char *msg);

/* The same error as a JS value (for callbacks and rejected promises). */
napi_value tsshim_napi_error_value(napi_env env, const struct tsshim_error *err);

#endif
