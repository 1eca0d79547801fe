/* waitid-based reaping; see reaper.h. */
#include "reaper.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int tsshim_reaper_set_subreaper(struct tsshim_error *err) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return tsshim_error_errno(err, "set subreaper", "prctl", "PR_SET_CHILD_SUBREAPER", NULL);
  return 0;
}

static void exit_from_siginfo(const siginfo_t *si, struct tsshim_exit *out) {
  struct timespec ts;
  memset(out, 0, sizeof *out);
  out->pid = si->si_pid;
  if (si->si_code == CLD_EXITED) {
    out->code = si->si_status;
    out->signal = 0;
    out->status = si->si_status;
  } else {
    out->code = -1;
    out->signal = si->si_status;
    out->status = 128 + si->si_status;
    out->core_dumped = si->si_code == CLD_DUMPED;
  }
  /* CLOCK_REALTIME cannot fail with a valid clock id and pointer. */
  clock_gettime(CLOCK_REALTIME, &ts);
  out->exited_at_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int tsshim_reaper_drain(tsshim_reaper_exit_fn fn, void *ctx, struct tsshim_error *err) {
  int reaped = 0;
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return reaped;
      return tsshim_error_errno(err, "reap", "waitid", "P_ALL", NULL);
    }
    /* WNOHANG with children still running leaves si_pid 0. */
    if (si.si_pid == 0) return reaped;
    struct tsshim_exit e;
    exit_from_siginfo(&si, &e);
    reaped++;
    fn(&e, ctx);
  }
}

int tsshim_reaper_reap_one(pid_t pid, int pidfd, struct tsshim_exit *out, struct tsshim_error *err) {
  char detail[24];
  snprintf(detail, sizeof detail, "pid %d", (int)pid);
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc = pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED)
                        : waitid(P_PID, (id_t)pid, &si, WEXITED);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return tsshim_error_errno(err, "reap", "waitid", detail, NULL);
    }
    if (out != NULL) exit_from_siginfo(&si, out);
    return 0;
  }
}
