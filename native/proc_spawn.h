/* Plain (non-container) processes for the shim's own helpers: OCI hooks and
 * binary:// logging drivers.
 *
 * Everything the child needs (argv, envp, the fd map) is prepared by the caller
 * before the clone: the child is a copy of the multi-threaded Node process and runs
 * only async-signal-safe code until execve. An exec failure travels back over a
 * close-on-exec pipe, so the caller gets "execve "/no/such": ENOENT" instead of a
 * child that exits 127. */
#ifndef TSSHIM_PROC_SPAWN_H
#define TSSHIM_PROC_SPAWN_H

#include <sys/types.h>

#include "error.h"

/* Entries of the fd map: child fd i receives parent fd fds[i]. */
#define TSSHIM_SPAWN_FD_DEVNULL (-1) /* child fd i is /dev/null (read-write) */

struct tsshim_spawn_opts {
  const char *file;   /* the program to execve; a path, no PATH search */
  char *const *argv;  /* NULL-terminated, argv[0] included */
  char *const *envp;  /* NULL-terminated, exactly the child's environment */
  const char *cwd;    /* NULL keeps the parent's working directory */
  const int *fds;     /* fd map for child fds 0..nfds-1; every other fd is closed */
  int nfds;
  int setsid;         /* new session (implies a new process group) */
  int new_pgroup;     /* new process group led by the child */
  int legacy_fork;    /* use the fork + pidfd_open fallback (tests exercise it with this) */
};

struct tsshim_spawn_result {
  pid_t pid;
  int pidfd; /* O_CLOEXEC, owned by the caller */
};

/* Starts the process. 0 on success; -1 with err filled when the clone or any step in
 * the child before execve failed (the failed child has then been reaped already). */
int tsshim_proc_spawn(const struct tsshim_spawn_opts *opts, struct tsshim_spawn_result *res,
                      struct tsshim_error *err);

#endif
