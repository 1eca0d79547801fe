/* Namespaces inside the child: joining by fd, the time namespace, uts names, and
 * becoming root of a fresh user namespace once the parent has mapped it. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *ns_name(int t) {
  switch (t) {
    case CLONE_NEWUSER: return "user";
    case CLONE_NEWNS: return "mnt";
    case CLONE_NEWPID: return "pid";
    case CLONE_NEWNET: return "net";
    case CLONE_NEWIPC: return "ipc";
    case CLONE_NEWUTS: return "uts";
    case CLONE_NEWCGROUP: return "cgroup";
    case CLONE_NEWTIME: return "time";
    default: return "namespace";
  }
}

/* The plan lists joins in the order to apply them (user first, mnt last). */
int tsshim_ns_join_all(const struct tsshim_container_plan *plan, struct tsshim_error *err) {
  for (size_t i = 0; i < plan->n_joins; i++) {
    const struct tsshim_ns_join *j = &plan->joins[i];
    if (setns(j->fd, j->nstype) < 0) return tsshim_error_errno(err, "join namespace", "setns", ns_name(j->nstype), j->path);
    close(j->fd);
  }
  return 0;
}

/* A new time namespace applies to children and, since Linux 5.17, to execve;
 * its offsets must be written before anything enters it. */
int tsshim_ns_time_new(const struct tsshim_container_plan *plan, struct tsshim_error *err) {
  if (!plan->new_time) return 0;
  if (unshare(CLONE_NEWTIME) < 0) return tsshim_error_errno(err, "time namespace", "unshare", "time", NULL);
  if (plan->time_offsets_len == 0) return 0;
  int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return tsshim_error_errno(err, "time namespace", "open", "offsets", "/proc/self/timens_offsets");
  ssize_t n = write(fd, plan->time_offsets, plan->time_offsets_len);
  int saved = errno;
  close(fd);
  if (n != (ssize_t)plan->time_offsets_len) {
    errno = n < 0 ? saved : EIO;
    return tsshim_error_errno(err, "time namespace", "write", "offsets", "/proc/self/timens_offsets");
  }
  return 0;
}

/* A cgroup namespace's root is the cgroup of its creator: unsharing after the parent
 * has placed us makes the container's cgroups its "/" in every hierarchy, v1 too
 * (CLONE_INTO_CGROUP alone would only cover the unified one). */
int tsshim_ns_cgroup_new(const struct tsshim_container_plan *plan, struct tsshim_error *err) {
  if (plan->new_cgroup_late && unshare(CLONE_NEWCGROUP) < 0)
    return tsshim_error_errno(err, "cgroup namespace", "unshare", "cgroup", NULL);
  return 0;
}

int tsshim_ns_uts_apply(const struct tsshim_container_plan *plan, struct tsshim_error *err) {
  if (plan->hostname != NULL && sethostname(plan->hostname, strlen(plan->hostname)) < 0)
    return tsshim_error_errno(err, "hostname", "sethostname", plan->hostname, NULL);
  if (plan->domainname != NULL && setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
    return tsshim_error_errno(err, "domainname", "setdomainname", plan->domainname, NULL);
  return 0;
}

/* In a user namespace we just created, our host uid is unmapped until the parent
 * writes the maps; then switch to the namespace's root so mounts and files are
 * created as container root. Raw syscalls: glibc would broadcast to threads. */
int tsshim_ns_become_root(struct tsshim_error *err) {
  if (syscall(SYS_setresgid, 0, 0, 0) < 0) return tsshim_error_errno(err, "user namespace", "setresgid", "0", NULL);
  if (syscall(SYS_setresuid, 0, 0, 0) < 0) return tsshim_error_errno(err, "user namespace", "setresuid", "0", NULL);
  return 0;
}
