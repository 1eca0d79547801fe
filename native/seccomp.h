/* Installing a seccomp BPF program compiled in TypeScript (src/oci/seccomp).
 *
 * The program arrives as ready bytes (struct sock_filter[], host byte order);
 * nothing here parses a profile. */
#ifndef TSSHIM_SECCOMP_H
#define TSSHIM_SECCOMP_H

#include <stddef.h>

#include "error.h"

/* Installs `filter` (len bytes, a whole number of struct sock_filter, at most
 * BPF_MAXINSNS of them) on the calling thread with seccomp(SECCOMP_SET_MODE_FILTER,
 * flags). Falls back to prctl(PR_SET_SECCOMP) when flags are 0 and the kernel has
 * no seccomp(2). The caller must already have no_new_privs set or hold
 * CAP_SYS_ADMIN.
 *
 * Async-signal-safe (raw syscalls, no allocation): meant for the container child
 * right before execve. Returns 0, or -1 with err filled (syscall "seccomp" or
 * "prctl"). */
int tsshim_seccomp_install(const void *filter, size_t len, unsigned flags, struct tsshim_error *err);

#endif
