/* The sync channel: fixed-size records on a SOCK_SEQPACKET socketpair, with an
 * optional fd passed by SCM_RIGHTS. Used from the child, so async-signal-safe. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "container.h"

int tsshim_sync_send(int sock, uint32_t type, int32_t pid, const struct tsshim_error *e, int fd) {
  struct tsshim_sync_msg msg;
  __builtin_memset(&msg, 0, sizeof msg);
  msg.type = type;
  msg.pid = pid;
  if (e != NULL) msg.err = *e;
  struct iovec iov = {.iov_base = &msg, .iov_len = sizeof msg};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  __builtin_memset(&ctl, 0, sizeof ctl);
  struct msghdr mh;
  __builtin_memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (fd >= 0) {
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof ctl.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    __builtin_memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  do n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof msg ? 0 : -1;
}

/* Returns 0 with msg->type TSSHIM_SYNC_EOF when the peer closed. */
int tsshim_sync_recv(int sock, struct tsshim_sync_msg *msg, int *fd_out) {
  if (fd_out != NULL) *fd_out = -1;
  __builtin_memset(msg, 0, sizeof *msg);
  struct iovec iov = {.iov_base = msg, .iov_len = sizeof *msg};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct msghdr mh;
  __builtin_memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.buf;
  mh.msg_controllen = sizeof ctl.buf;
  ssize_t n;
  do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      __builtin_memcpy(&fd, CMSG_DATA(c), sizeof fd);
      if (fd_out != NULL) *fd_out = fd;
      else close(fd);
    }
  }
  if (n == 0) {
    msg->type = TSSHIM_SYNC_EOF;
    return 0;
  }
  if (n != (ssize_t)sizeof *msg) {
    errno = EPROTO;
    return -1;
  }
  return 0;
}
