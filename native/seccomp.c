/* seccomp program installation; see seccomp.h. */
#include "seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int tsshim_seccomp_install(const void *filter, size_t len, unsigned flags, struct tsshim_error *err) {
  const size_t insns = len / sizeof(struct sock_filter);
  if (filter == NULL || len == 0 || len % sizeof(struct sock_filter) != 0 || insns > BPF_MAXINSNS)
    return tsshim_error_set(err, EINVAL, "seccomp", "seccomp", "filter is not 1..4096 whole instructions", NULL);

  /* The kernel copies the program; the cast only drops const for the struct's field type. */
  struct sock_fprog prog = {.len = (unsigned short)insns, .filter = (struct sock_filter *)filter};
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc == 0) return 0;
  if (rc > 0) /* TSYNC: the id of a thread that could not be synchronised */
    return tsshim_error_set(err, 0, "seccomp", "seccomp", "SECCOMP_FILTER_FLAG_TSYNC: a thread could not be synchronised", NULL);
  if (errno == ENOSYS && flags == 0) {
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0) return 0;
    return tsshim_error_errno(err, "seccomp", "prctl", "PR_SET_SECCOMP", NULL);
  }
  return tsshim_error_errno(err, "seccomp", "seccomp", "SECCOMP_SET_MODE_FILTER", NULL);
}
