/* pidfds: process handles that cannot be confused with a recycled pid.
 *
 * The shim signals its own processes through a pidfd, so a kill never reaches an
 * unrelated process that inherited a reused pid. Raw syscalls: glibc 2.36 has no
 * wrappers we can rely on everywhere. */
#ifndef TSSHIM_PIDFD_H
#define TSSHIM_PIDFD_H

#include <sys/types.h>

#include "error.h"

/* Returns a new O_CLOEXEC pidfd for pid, or -1 with err filled (ESRCH: no such process). */
int tsshim_pidfd_open(pid_t pid, struct tsshim_error *err);

/* Sends sig (0 probes) to the process behind pidfd. 0, or -1 with err filled
 * (ESRCH: the process has exited and been reaped). */
int tsshim_pidfd_send_signal(int pidfd, int sig, struct tsshim_error *err);

#endif
