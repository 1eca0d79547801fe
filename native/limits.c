/* Per-process limits: rlimits, personality, I/O priority, scheduler. */
#include <errno.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"

static const char *rlimit_name(int r) {
  static const char *const names[] = {"RLIMIT_CPU",   "RLIMIT_FSIZE",   "RLIMIT_DATA",     "RLIMIT_STACK",
                                      "RLIMIT_CORE",  "RLIMIT_RSS",     "RLIMIT_NPROC",    "RLIMIT_NOFILE",
                                      "RLIMIT_MEMLOCK", "RLIMIT_AS",    "RLIMIT_LOCKS",    "RLIMIT_SIGPENDING",
                                      "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO",   "RLIMIT_RTTIME"};
  return r >= 0 && r < 16 ? names[r] : "rlimit";
}

int tsshim_limits_apply(const struct tsshim_process_plan *p, struct tsshim_error *err) {
  for (size_t i = 0; i < p->n_rlimits; i++) {
    struct rlimit lim = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
    if (syscall(SYS_prlimit64, 0, p->rlimits[i].resource, &lim, NULL) < 0)
      return tsshim_error_errno(err, "rlimits", "prlimit64", rlimit_name(p->rlimits[i].resource), NULL);
  }
  if (p->personality >= 0 && syscall(SYS_personality, (unsigned long)p->personality) < 0)
    return tsshim_error_errno(err, "personality", "personality", NULL, NULL);
  /* IOPRIO_WHO_PROCESS = 1, who = 0: ourselves. */
  if (p->ioprio >= 0 && syscall(SYS_ioprio_set, 1, 0, p->ioprio) < 0)
    return tsshim_error_errno(err, "ioPriority", "ioprio_set", NULL, NULL);
  if (p->sched_set && syscall(SYS_sched_setattr, 0, &p->sched, 0) < 0)
    return tsshim_error_errno(err, "scheduler", "sched_setattr", NULL, NULL);
  return 0;
}
