/* The container's terminal: a PTY from the container's own devpts (its /dev/ptmx,
 * opened after the rootfs is in place), the slave opened through the master
 * (TIOCGPTPEER, no path lookup), made the controlling terminal and fds 0-2. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "container.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int tsshim_pty_setup(const struct tsshim_process_plan *p, int *master_out, struct tsshim_error *err) {
  *master_out = -1;
  int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  /* A /dev without the ptmx link still has the devpts instance's own node. */
  if (m < 0 && errno == ENOENT) m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return tsshim_error_errno(err, "terminal", "open", "ptmx", "/dev/ptmx");
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0) {
    tsshim_error_errno(err, "terminal", "ioctl", "TIOCSPTLCK", "/dev/ptmx");
    close(m);
    return -1;
  }
  int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    tsshim_error_errno(err, "terminal", "ioctl", "TIOCGPTPEER", "/dev/ptmx");
    close(m);
    return -1;
  }
  if (p->rows != 0 || p->cols != 0) {
    struct winsize ws = {.ws_row = p->rows, .ws_col = p->cols};
    if (ioctl(s, TIOCSWINSZ, &ws) < 0) {
      tsshim_error_errno(err, "terminal", "ioctl", "TIOCSWINSZ", NULL);
      goto fail;
    }
  }
  if (ioctl(s, TIOCSCTTY, 0) < 0) {
    tsshim_error_errno(err, "terminal", "ioctl", "TIOCSCTTY", NULL);
    goto fail;
  }
  for (int i = 0; i < 3; i++) {
    if (dup2(s, i) < 0) {
      tsshim_error_errno(err, "terminal", "dup2", "pty slave", NULL);
      goto fail;
    }
  }
  close(s);
  *master_out = m;
  return 0;
fail:
  close(s);
  close(m);
  return -1;
}
