/* A listening unix socket bound to a path, made here rather than by libuv:
 * libuv unlinks the path when its handle closes, which for a shim socket
 * could remove the socket of the group's next shim bound in between. */
#ifndef TSSHIM_UNIX_LISTEN_H
#define TSSHIM_UNIX_LISTEN_H

#include "error.h"

/* Binds path with mode 0600 and listens; returns the fd (O_CLOEXEC) or -1.
 * An existing file at path is an EADDRINUSE error. */
int tsshim_unix_listen(const char *path, int backlog, struct tsshim_error *err);

#endif
