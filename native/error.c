/* The native core's error record; see error.h. */
#include "error.h"

#include <errno.h>

static void copy_bounded(char *dst, size_t cap, const char *src) {
  size_t i = 0;
  if (src != NULL) {
    for (; i + 1 < cap && src[i] != '\0'; i++) dst[i] = src[i];
  }
  dst[i] = '\0';
}

int tsshim_error_set(struct tsshim_error *err, int errnum, const char *step, const char *syscall,
                     const char *detail, const char *path) {
  if (err == NULL) return -1;
  err->errnum = errnum;
  copy_bounded(err->step, sizeof err->step, step);
  copy_bounded(err->syscall, sizeof err->syscall, syscall);
  copy_bounded(err->detail, sizeof err->detail, detail);
  copy_bounded(err->path, sizeof err->path, path);
  return -1;
}

int tsshim_error_errno(struct tsshim_error *err, const char *step, const char *syscall,
                       const char *detail, const char *path) {
  return tsshim_error_set(err, errno, step, syscall, detail, path);
}
