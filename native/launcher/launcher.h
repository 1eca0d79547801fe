/* containerd-shim-tsshim-v2: the program containerd runs (bin/ links to
 * build/Release/tsshim-launcher). It answers what needs no Node itself and
 * runs Node for the rest, without the Node options containerd's environment
 * may carry (NODE_EXTRA_CA_CERTS alone costs ~80 ms per start).
 *
 * `start`: containerd waits for it twice (for the verb, then for the daemon
 * to answer Create). The launcher hands the request to a Node daemon that is
 * already running (a spare, listening on a socket of its own) and prints its
 * answer, so no Node boots on the critical path. Without a ready spare it
 * starts one for this request alone, and when anything goes wrong before an
 * answer it falls back to the Node `start` verb with the same argv,
 * environment and stdin. `delete`: see delete_verb.c.
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
#define DEFAULT_SOCKET_DIR "/run/containerd/s"

/* What containerd passes (Go flag syntax); verb is the first positional. */
struct shim_args {
  const char *address;
  const char *namespace;
  const char *id;
  const char *bundle;
  const char *verb;
};

enum node_entry {
  NODE_BUNDLE,        /* dist/bundle/main.mjs: the verbs */
  NODE_SNAPSHOT,      /* a shared spare: the snapshot with TSSHIM_SNAPSHOT=1 */
  NODE_SNAPSHOT_FAST, /* a spare for a waiting request: the snapshot with TSSHIM_SNAPSHOT=1 or burst */
};

/* node_exec.c */
int package_root(char *out, size_t size);
/* execvp node with the shim's flags and argv[1..]; does not return. */
void exec_node(const char *root, enum node_entry entry, int argc, char **argv);

/* delete_verb.c: 1 when answered without Node. */
int delete_fast_path(const struct shim_args *a);

/* sha256.c */
void sha256_hex(const void *data, size_t len, char out[65]);

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
int spawn_private_spare(const char *root, const char *address);
/* Makes sure a shared spare listens on path: binds it and starts one when
 * nobody does. Failures are silent: the next start falls back. */
void ensure_shared_spare(const char *root, const char *address, const char *path);

/* exchange.c */
int send_request(int fd, int argc, char **argv, char **envp, const struct buf *in);
int read_reply(int fd, struct reply *r);

/* Reports "tsshim-launcher: <what>: <strerror(errno)>" on stderr. */
void launcher_perror(const char *what);

#endif
