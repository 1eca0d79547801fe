/* Pipes for the shim's own plumbing; see host_pipe.h. */
#include "host_pipe.h"

#include <fcntl.h>
#include <unistd.h>

static int set_nonblock(int fd, struct tsshim_error *err) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return tsshim_error_errno(err, "pipe", "fcntl", "F_GETFL", NULL);
  if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return tsshim_error_errno(err, "pipe", "fcntl", "F_SETFL", NULL);
  return 0;
}

int tsshim_host_pipe(int fds[2], int nonblock_read, int nonblock_write, struct tsshim_error *err) {
  if (pipe2(fds, O_CLOEXEC) < 0) return tsshim_error_errno(err, "pipe", "pipe2", NULL, NULL);
  if ((nonblock_read && set_nonblock(fds[0], err) < 0) || (nonblock_write && set_nonblock(fds[1], err) < 0)) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  return 0;
}

int tsshim_host_pipe_resize(int fd, int size, struct tsshim_error *err) {
  int r = fcntl(fd, F_SETPIPE_SZ, size);
  if (r < 0) return tsshim_error_errno(err, "pipe", "fcntl", "F_SETPIPE_SZ", NULL);
  return r;
}
