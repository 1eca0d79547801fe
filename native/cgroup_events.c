/* cgroup v1 OOM notification registration (see cgroup_events.h). */
#include "cgroup_events.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int tsshim_cgroup_oom_eventfd(const char *memory_dir, struct tsshim_error *err) {
  char control[TSSHIM_ERR_PATH];
  char oom[TSSHIM_ERR_PATH];
  if (snprintf(control, sizeof control, "%s/cgroup.event_control", memory_dir) >= (int)sizeof control ||
      snprintf(oom, sizeof oom, "%s/memory.oom_control", memory_dir) >= (int)sizeof oom) {
    tsshim_error_set(err, 0, "oom eventfd", "", "path too long", memory_dir);
    return -1;
  }
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return tsshim_error_errno(err, "oom eventfd", "eventfd", "", memory_dir);
  int ofd = open(oom, O_RDONLY | O_CLOEXEC);
  if (ofd < 0) {
    tsshim_error_errno(err, "oom eventfd", "open", "", oom);
    close(efd);
    return -1;
  }
  int cfd = open(control, O_WRONLY | O_CLOEXEC);
  if (cfd < 0) {
    tsshim_error_errno(err, "oom eventfd", "open", "", control);
    close(ofd);
    close(efd);
    return -1;
  }
  char line[32];
  int n = snprintf(line, sizeof line, "%d %d", efd, ofd);
  ssize_t w = write(cfd, line, (size_t)n);
  int saved = w < 0 ? -1 : 0;
  if (saved < 0) tsshim_error_errno(err, "oom eventfd", "write", line, control);
  /* The kernel holds its own references to both files once registered. */
  close(cfd);
  close(ofd);
  if (saved < 0) {
    close(efd);
    return -1;
  }
  return efd;
}
