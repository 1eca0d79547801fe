/* The child joins its cgroup v1 hierarchies itself; see container_cgroup.h. */
#include "container_cgroup.h"

#include <errno.h>
#include <unistd.h>

int tsshim_container_cgroup_join(const struct tsshim_container_plan *plan, const int *fds, size_t n,
                                 struct tsshim_error *err) {
  int rc = 0;
  if (n != plan->n_cgroup_tasks) rc = tsshim_error_set(err, EPROTO, "cgroup enter", "recvmsg", "tasks fds", NULL);
  for (size_t i = 0; i < n; i++) {
    if (rc == 0) {
      ssize_t w;
      do w = write(fds[i], "0", 1);
      while (w < 0 && errno == EINTR);
      if (w != 1) {
        if (w >= 0) errno = EIO;
        rc = tsshim_error_errno(err, "cgroup enter", "write", "0", plan->cgroup_tasks[i]);
      }
    }
    close(fds[i]);
  }
  return rc;
}
