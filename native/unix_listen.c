/* See unix_listen.h. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_listen.h"

int tsshim_unix_listen(const char *path, int backlog, struct tsshim_error *err) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof sa.sun_path) {
    errno = ENAMETOOLONG;
    return tsshim_error_errno(err, "listen", "bind", NULL, path);
  }
  memcpy(sa.sun_path, path, len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return tsshim_error_errno(err, "listen", "socket", NULL, path);
  /* 0600 from the first moment: only root (containerd) may connect. */
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (rc < 0) {
    tsshim_error_errno(err, "listen", "bind", NULL, path);
    close(fd);
    return -1;
  }
  if (listen(fd, backlog) < 0) {
    tsshim_error_errno(err, "listen", "listen", NULL, path);
    unlink(path);
    close(fd);
    return -1;
  }
  return fd;
}
