/* The process identity: supplementary groups, gid, uid, umask.
 * Raw syscalls throughout: glibc's set*id wrappers signal every thread of the
 * process (setxid broadcast), which in a clone of node would touch dead threads. */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"

static void u32_text(uint32_t v, char *buf) {
  char tmp[12];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
}

int tsshim_identity_apply(const struct tsshim_process_plan *p, struct tsshim_error *err) {
  char id[12];
  /* Keep the permitted set across the uid change; caps.c then sets exact sets. */
  if (p->caps.set && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return tsshim_error_errno(err, "user", "prctl", "PR_SET_KEEPCAPS", NULL);
  if (syscall(SYS_setgroups, p->n_groups, p->groups) < 0)
    return tsshim_error_errno(err, "user", "setgroups", "additionalGids", NULL);
  if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0) {
    u32_text(p->gid, id);
    return tsshim_error_errno(err, "user", "setresgid", id, NULL);
  }
  if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0) {
    u32_text(p->uid, id);
    return tsshim_error_errno(err, "user", "setresuid", id, NULL);
  }
  if (p->caps.set && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return tsshim_error_errno(err, "user", "prctl", "PR_SET_KEEPCAPS", NULL);
  if (p->umask >= 0) umask((mode_t)p->umask);
  return 0;
}
