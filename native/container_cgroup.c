/* The child joins its cgroup v1 hierarchies itself; see container_cgroup.h. */
#include "container_cgroup.h"

#include <errno.h>
#include <unistd.h>

int tsshim_container_cgroup_self_enter(const struct tsshim_container_plan *plan, struct tsshim_error *err) {
  for (size_t i = 0; i < plan->n_cgroup_tasks; i++) {
    const struct tsshim_cgroup_task_file *t = &plan->cgroup_tasks[i];
    ssize_t w;
    do w = write(t->fd, "0", 1);
    while (w < 0 && errno == EINTR);
    if (w != 1) {
      if (w >= 0) errno = EIO;
      return tsshim_error_errno(err, "cgroup enter", "write", "0", t->path);
    }
    close(t->fd);
  }
  return 0;
}
