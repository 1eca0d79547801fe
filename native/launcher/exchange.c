/* One request and one answer over a connected socket to a spare. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "launcher.h"

/* The largest answer a spare sends (an address or an error message). */
#define REPLY_LIMIT (64 * 1024)

int send_request(int fd, int argc, char **argv, char **envp, const struct buf *in) {
  struct buf req = {0};
  char cwd[4096];
  char ppid[24];
  int rc = -1;
  if (getcwd(cwd, sizeof cwd) == NULL) {
    launcher_perror("getcwd");
    goto out;
  }
  snprintf(ppid, sizeof ppid, "%ld", (long)getppid());
  for (int i = 0; i < argc; i++) {
    if (buf_record(&req, 'A', argv[i], strlen(argv[i])) < 0) goto nomem;
  }
  for (char **e = envp; *e != NULL; e++) {
    if (buf_record(&req, 'E', *e, strlen(*e)) < 0) goto nomem;
  }
  if (buf_record(&req, 'C', cwd, strlen(cwd)) < 0 || buf_record(&req, 'P', ppid, strlen(ppid)) < 0 ||
      buf_record(&req, 'I', in->data, in->len) < 0)
    goto nomem;
  if (write_all(fd, req.data, req.len) < 0) {
    launcher_perror("write to the spare");
    goto out;
  }
  if (shutdown(fd, SHUT_WR) < 0) {
    launcher_perror("shutdown");
    goto out;
  }
  rc = 0;
  goto out;
nomem:
  launcher_perror("building the request");
out:
  buf_free(&req);
  return rc;
}

/* 0 with r filled; -1 when the spare went away before a whole answer (the
 * caller then falls back: nothing was promised to containerd yet). */
int read_reply(int fd, struct reply *r) {
  struct buf in = {0};
  if (buf_read_fd(&in, fd, REPLY_LIMIT + 6) < 0) {
    buf_free(&in);
    return -1;
  }
  if (in.len < 6) {
    buf_free(&in);
    errno = EPROTO;
    return -1;
  }
  size_t len = 0;
  for (int i = 0; i < 4; i++) len |= (size_t)in.data[2 + i] << (8 * i);
  if (len != in.len - 6) {
    buf_free(&in);
    errno = EPROTO;
    return -1;
  }
  r->status = in.data[0];
  r->flags = in.data[1];
  memmove(in.data, in.data + 6, len);
  in.len = len;
  r->out = in;
  return 0;
}
