/* Pipes for the shim's own plumbing (binary:// loggers, stdin), close-on-exec. */
#ifndef TSSHIM_HOST_PIPE_H
#define TSSHIM_HOST_PIPE_H

#include "error.h"

int tsshim_host_pipe(int fds[2], int nonblock_read, int nonblock_write, struct tsshim_error *err);
/* Grows a pipe's buffer (F_SETPIPE_SZ); returns the new size. */
int tsshim_host_pipe_resize(int fd, int size, struct tsshim_error *err);

#endif
