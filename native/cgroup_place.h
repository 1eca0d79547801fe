/* cgroup directories and placement in plain syscalls, one call for every hierarchy:
 * mkdir -p (with the v1 cpuset copy-down), cgroup.procs writes, rmdir. The Node-API
 * glue (napi_cgroup.c) hands over whole lists so creating, entering or removing a
 * container's cgroups is one crossing instead of one per file. */
#ifndef TSSHIM_CGROUP_PLACE_H
#define TSSHIM_CGROUP_PLACE_H

#include <stddef.h>

#include "error.h"

/* The directories one tsshim_cgroup_mkdirs call made, outermost first (malloc'd). */
struct tsshim_cgroup_made {
  char **dirs;
  size_t n, cap;
};

/* mkdir -p every dirs[i]. Where cpuset[i] is set (a v1 cpuset hierarchy), dirs[i] and any
 * ancestor with empty cpuset.cpus or cpuset.mems (new, or made by a racing shim that has
 * not filled it yet) get the values of the nearest ancestor that has them, without which no
 * task can join. On failure every directory this call made is removed again, err names
 * the step, and -1 is returned. */
int tsshim_cgroup_mkdirs(const char *const *dirs, const int *cpuset, size_t n, struct tsshim_cgroup_made *made,
                         struct tsshim_error *err);

void tsshim_cgroup_made_free(struct tsshim_cgroup_made *made);

/* Opens every file write-only (O_CLOEXEC) into fds[i]; on failure closes what it opened. */
int tsshim_cgroup_open_all(const char *const *files, size_t n, int *fds, struct tsshim_error *err);

/* Writes pid to every cgroup.procs file in order; stops at the first failure. */
int tsshim_cgroup_enter(const char *const *procs_files, size_t n, int pid, struct tsshim_error *err);

/* rmdir of every dir; errnos[i] is 0 when it is gone (removed, or already absent),
 * else the errno of rmdir (EBUSY while tasks leave or sub-cgroups remain). */
void tsshim_cgroup_rmdirs(const char *const *dirs, size_t n, int *errnos);

#endif
