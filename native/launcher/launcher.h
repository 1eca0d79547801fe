/* tsshim-launcher: the `start` verb without Node.
 *
 * containerd runs `containerd-shim-tsshim-v2 ... start` for every container and
 * waits for it twice (for the verb, then for the daemon to answer Create). The
 * launcher hands the request to a Node daemon that is already running (a spare,
 * listening on a socket of its own) and prints its answer, so no Node boots on
 * the critical path. Without a spare it starts one for this request alone, and
 * when anything goes wrong before an answer it falls back to the Node `start`
 * verb with the same argv, environment and stdin.
 *
 * Wire format to the spare (one request per connection, ended by SHUT_WR):
 *   records of  tag:u8  length:u32le  bytes
 *   'A' one argv element (argv[0] first), 'E' one environment entry, 'C' the
 *   working directory (the bundle), 'I' the verb's stdin, 'P' the pid of
 *   containerd (our parent) in decimal.
 * Answer:  status:u8  flags:u8  length:u32le  bytes
 *   status is the verb's exit code; bytes go to stdout when it is 0, else to
 *   stderr. flags bit 0: the spare became this container's shim (a new spare
 *   is needed). */
#ifndef TSSHIM_LAUNCHER_H
#define TSSHIM_LAUNCHER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LAUNCHER_ADOPTED 0x01

struct buf {
  unsigned char *data;
  size_t len;
  size_t cap;
};

struct reply {
  int status;
  int flags;
  struct buf out;
};

/* buf.c */
int buf_put(struct buf *b, const void *data, size_t len);
int buf_record(struct buf *b, char tag, const void *data, size_t len);
int buf_read_fd(struct buf *b, int fd, size_t limit);
int write_all(int fd, const void *data, size_t len);
void buf_free(struct buf *b);

/* spare_path.c: where the spare of one containerd listens. */
int spare_socket_path(char *out, size_t size, const char *socket_dir, const char *address);
int connect_unix(const char *path);
/* A spare marks its socket ready, once booted, with the sticky bit (a mode bit
 * with no meaning for sockets): see src/shim/spare.ts. */
int spare_ready(const char *path);

/* spare_spawn.c */
/* Starts a spare daemon for this request alone; returns our end of its socket. */
int spawn_private_spare(const char *wrapper, const char *address);
/* Makes sure a shared spare listens on path: binds it (under a lock) and starts
 * one when nobody does. Failures are only logged: the next start falls back. */
void ensure_shared_spare(const char *wrapper, const char *address, const char *path);

/* exchange.c */
int send_request(int fd, int argc, char **argv, char **envp, const struct buf *in);
int read_reply(int fd, struct reply *r);

/* Reports "tsshim-launcher: <what>: <strerror(errno)>" on stderr. */
void launcher_perror(const char *what);

#endif
