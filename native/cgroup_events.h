/* cgroup v1 memory events: an eventfd registered on memory.oom_control through
 * cgroup.event_control. The kernel signals it on every OOM in the cgroup and once more
 * when the cgroup is removed. */
#ifndef TSSHIM_CGROUP_EVENTS_H
#define TSSHIM_CGROUP_EVENTS_H

#include "error.h"

/* Returns a non-blocking, close-on-exec eventfd registered for OOM notifications of the
 * v1 memory cgroup at memory_dir, or -1 with err filled. */
int tsshim_cgroup_oom_eventfd(const char *memory_dir, struct tsshim_error *err);

#endif
