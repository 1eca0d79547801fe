/* The one owner of wait() in the shim daemon.
 *
 * The daemon is a child subreaper: besides its own children it inherits every orphan
 * of the container workloads. The reaper drains all exited children with
 * waitid(P_ALL) and hands each exit, timestamped at reap, to a callback; nothing else
 * in the process may wait. The Node-API glue (napi_proc.c) drives the drain from the
 * libuv loop on SIGCHLD. */
#ifndef TSSHIM_REAPER_H
#define TSSHIM_REAPER_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct tsshim_exit {
  pid_t pid;
  int code;             /* exit code, -1 when killed by a signal */
  int signal;           /* terminating signal, 0 for a normal exit */
  int status;           /* as containerd reports it: code, or 128 + signal */
  int core_dumped;
  int64_t exited_at_ns; /* CLOCK_REALTIME at reap */
};

typedef void (*tsshim_reaper_exit_fn)(const struct tsshim_exit *exit, void *ctx);

/* PR_SET_CHILD_SUBREAPER on the calling process. */
int tsshim_reaper_set_subreaper(struct tsshim_error *err);

/* Reaps every child that has exited, without blocking, calling fn for each. Returns
 * the number reaped (0 when none or no children), or -1 with err filled. Only
 * WEXITED is collected: stopped/continued children are left alone. */
int tsshim_reaper_drain(tsshim_reaper_exit_fn fn, void *ctx, struct tsshim_error *err);

/* Blocks until the given child (pid, with its pidfd when >= 0) has exited and reaps
 * it. Only for a child nobody else knows of yet: a spawn that failed before execve. */
int tsshim_reaper_reap_one(pid_t pid, int pidfd, struct tsshim_exit *out, struct tsshim_error *err);

#endif
