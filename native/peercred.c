/* SO_PEERCRED; see peercred.h. */
#include "peercred.h"

#include <stdio.h>
#include <sys/socket.h>

int tsshim_peercred_get(int fd, pid_t *pid, uid_t *uid, gid_t *gid, struct tsshim_error *err) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    char detail[24];
    snprintf(detail, sizeof detail, "fd %d", fd);
    return tsshim_error_errno(err, "peer credentials", "getsockopt", detail, NULL);
  }
  *pid = cred.pid;
  *uid = cred.uid;
  *gid = cred.gid;
  return 0;
}
