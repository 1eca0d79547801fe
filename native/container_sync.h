/* The sync channel with several fds per message (container_sync.c); async-signal-safe.
 * tsshim_sync_send/recv in container.h are the one-fd forms of these. */
#ifndef TSSHIM_CONTAINER_SYNC_H
#define TSSHIM_CONTAINER_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "container_plan.h"

/* Sends one record with n_fds (≤ TSSHIM_SYNC_MAX_FDS) fds by SCM_RIGHTS. */
int tsshim_sync_send_fds(int sock, uint32_t type, int32_t pid, const struct tsshim_error *e, const int *fds,
                         size_t n_fds);

/* Receives one record; the fds that came with it, in order, up to max_fds (others are closed). */
int tsshim_sync_recv_fds(int sock, struct tsshim_sync_msg *msg, int *fds, size_t max_fds, size_t *n_fds);

#endif
