/* The shim's side of a container console; see host_pty.h. */
#include "host_pty.h"

#include <sys/ioctl.h>
#include <termios.h>

int tsshim_host_pty_resize(int master, unsigned short rows, unsigned short cols, struct tsshim_error *err) {
  struct winsize ws = {.ws_row = rows, .ws_col = cols, .ws_xpixel = 0, .ws_ypixel = 0};
  if (ioctl(master, TIOCSWINSZ, &ws) < 0) return tsshim_error_errno(err, "resize pty", "ioctl", "TIOCSWINSZ", NULL);
  return 0;
}
