/* The child's own cgroup v1 placement (see struct tsshim_cgroup_task_file). */
#ifndef TSSHIM_CONTAINER_CGROUP_H
#define TSSHIM_CONTAINER_CGROUP_H

#include "container_plan.h"
#include "error.h"

/* Child side, async-signal-safe: writes "0" to every `tasks` fd of the plan and closes it.
 * The child is single-threaded, so moving its one thread moves the process. Runs first
 * thing after clone, so before any new cgroup namespace and before any workload code. */
int tsshim_container_cgroup_self_enter(const struct tsshim_container_plan *plan, struct tsshim_error *err);

#endif
