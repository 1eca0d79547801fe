/* The child's own cgroup v1 placement (see cgroup_tasks in container_plan.h). */
#ifndef TSSHIM_CONTAINER_CGROUP_H
#define TSSHIM_CONTAINER_CGROUP_H

#include <stddef.h>

#include "container_plan.h"
#include "error.h"

/* Child side, async-signal-safe: writes "0" to each `tasks` fd that came with "mapped" and
 * closes them all. The child is single-threaded, so moving its one thread moves the process.
 * It runs before any new cgroup namespace is unshared and before any workload code. */
int tsshim_container_cgroup_join(const struct tsshim_container_plan *plan, const int *fds, size_t n,
                                 struct tsshim_error *err);

#endif
