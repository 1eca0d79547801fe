/* A minimal container run for the rootfs tests only: clone into new namespaces, apply a
 * rootfs plan (tsshim_rootfs_mount + tsshim_rootfs_finalize) and execve a command, with its
 * output captured. The real container path is the container engineer's; this one lets the
 * rootfs code be checked from inside a container on its own. Runs in the parent, blocking. */
#ifndef TSSHIM_ROOTFS_TESTRUN_H
#define TSSHIM_ROOTFS_TESTRUN_H

#include <stddef.h>

#include "error.h"
#include "rootfs.h"

struct tsshim_rootfs_testrun {
  const struct tsshim_rootfs_plan *plan;
  char *const *argv; /* argv[0] is an absolute path inside the container */
  char *const *envp;
  int clone_flags;   /* CLONE_NEW* besides CLONE_NEWNS, which is always set */
  unsigned int host_uid, host_gid, id_count; /* with CLONE_NEWUSER: container 0.. maps to these */
  int console; /* open a PTY in the container's devpts and bind its slave over /dev/console */
};

/* Runs it; output (stdout and stderr together) goes into out (at most cap bytes, the rest
 * is read and dropped). *status: exit code, or 128+signal. When the child failed before
 * execve, *child_failed is 1 and child_err holds its error. Returns 0, or -1 with err filled
 * when the parent side itself failed. */
int tsshim_rootfs_testrun_run(const struct tsshim_rootfs_testrun *run, char *out, size_t cap, size_t *out_len,
                              int *status, int *child_failed, struct tsshim_error *child_err,
                              struct tsshim_error *err);

#endif
