/* The sync channel: fixed-size records on a SOCK_SEQPACKET socketpair, with an
 * optional fd passed by SCM_RIGHTS. Used from the child, so async-signal-safe. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "container.h"
#include "container_sync.h"

int tsshim_sync_send(int sock, uint32_t type, int32_t pid, const struct tsshim_error *e, int fd) {
  return tsshim_sync_send_fds(sock, type, pid, e, &fd, fd >= 0 ? 1 : 0);
}

int tsshim_sync_send_fds(int sock, uint32_t type, int32_t pid, const struct tsshim_error *e, const int *fds,
                         size_t n_fds) {
  struct tsshim_sync_msg msg;
  __builtin_memset(&msg, 0, sizeof msg);
  msg.type = type;
  msg.pid = pid;
  if (e != NULL) msg.err = *e;
  struct iovec iov = {.iov_base = &msg, .iov_len = sizeof msg};
  union {
    char buf[CMSG_SPACE(sizeof(int) * TSSHIM_SYNC_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  __builtin_memset(&ctl, 0, sizeof ctl);
  struct msghdr mh;
  __builtin_memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (n_fds > TSSHIM_SYNC_MAX_FDS) {
    errno = EINVAL;
    return -1;
  }
  if (n_fds > 0) {
    mh.msg_control = ctl.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
    __builtin_memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
  }
  ssize_t n;
  do n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof msg ? 0 : -1;
}

/* Returns 0 with msg->type TSSHIM_SYNC_EOF when the peer closed. */
int tsshim_sync_recv(int sock, struct tsshim_sync_msg *msg, int *fd_out) {
  size_t n = 0;
  int fd = -1;
  int rc = tsshim_sync_recv_fds(sock, msg, &fd, fd_out != NULL ? 1 : 0, &n);
  if (fd_out != NULL) *fd_out = n > 0 ? fd : -1;
  return rc;
}

int tsshim_sync_recv_fds(int sock, struct tsshim_sync_msg *msg, int *fds, size_t max_fds, size_t *n_fds) {
  *n_fds = 0;
  __builtin_memset(msg, 0, sizeof *msg);
  struct iovec iov = {.iov_base = msg, .iov_len = sizeof *msg};
  union {
    char buf[CMSG_SPACE(sizeof(int) * TSSHIM_SYNC_MAX_FDS)];
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
  /* Every fd that came is kept (up to max_fds, in order) or closed: none leaks. */
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      __builtin_memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*n_fds < max_fds) fds[(*n_fds)++] = fd;
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
