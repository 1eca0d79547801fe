/* The one error record of the native core.
 *
 * Every fallible step fills a tsshim_error (step + syscall + detail + path + errno)
 * and returns -1. The record is plain bytes: the container child, which may only do
 * async-signal-safe work, copies it over its sync pipe to the parent unchanged, and
 * TypeScript formats it once, e.g.  mount "proc" on "/proc": ENOENT.
 */
#ifndef TSSHIM_ERROR_H
#define TSSHIM_ERROR_H

#include <stddef.h>

#define TSSHIM_ERR_STEP 48
#define TSSHIM_ERR_SYSCALL 32
#define TSSHIM_ERR_DETAIL 256
#define TSSHIM_ERR_PATH 512

struct tsshim_error {
  int errnum;                        /* errno of the failing call, 0 when not a syscall error */
  char step[TSSHIM_ERR_STEP];        /* what the core was doing: "mount", "pivot_root", "setns" */
  char syscall[TSSHIM_ERR_SYSCALL];  /* the call that failed: "mount", "openat2", "execve" */
  char detail[TSSHIM_ERR_DETAIL];    /* the object acted on: a mount source, a namespace type */
  char path[TSSHIM_ERR_PATH];        /* the path involved, relative to the container where it applies */
};

/* Async-signal-safe: bounded byte copies only, no formatting, no allocation. */
int tsshim_error_set(struct tsshim_error *err, int errnum, const char *step, const char *syscall,
                     const char *detail, const char *path);

/* Fills err from errno and returns -1, so a call site reads
 *   if (mount(...) < 0) return tsshim_error_errno(err, "mount", "mount", src, dst); */
int tsshim_error_errno(struct tsshim_error *err, const char *step, const char *syscall,
                       const char *detail, const char *path);

#endif
