/* pidfd_open and pidfd_send_signal as raw syscalls; see pidfd.h. */
#include "pidfd.h"

#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int tsshim_pidfd_open(pid_t pid, struct tsshim_error *err) {
  /* A pidfd is always close-on-exec; flags 0 is the only non-PIDFD_NONBLOCK value. */
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    char detail[24];
    snprintf(detail, sizeof detail, "pid %d", (int)pid);
    return tsshim_error_errno(err, "pidfd_open", "pidfd_open", detail, NULL);
  }
  return (int)fd;
}

int tsshim_pidfd_send_signal(int pidfd, int sig, struct tsshim_error *err) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) {
    char detail[32];
    snprintf(detail, sizeof detail, "signal %d", sig);
    return tsshim_error_errno(err, "pidfd_send_signal", "pidfd_send_signal", detail, NULL);
  }
  return 0;
}
