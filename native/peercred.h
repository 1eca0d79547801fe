/* Credentials of the process at the other end of a unix socket (SO_PEERCRED), so the
 * ttrpc server can tell who connected. */
#ifndef TSSHIM_PEERCRED_H
#define TSSHIM_PEERCRED_H

#include <sys/types.h>

#include "error.h"

int tsshim_peercred_get(int fd, pid_t *pid, uid_t *uid, gid_t *gid, struct tsshim_error *err);

#endif
