/* The shim's side of a container console: resizing the PTY master it holds. */
#ifndef TSSHIM_HOST_PTY_H
#define TSSHIM_HOST_PTY_H

#include "error.h"

int tsshim_host_pty_resize(int master, unsigned short rows, unsigned short cols, struct tsshim_error *err);

#endif
