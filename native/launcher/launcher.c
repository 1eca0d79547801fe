/* containerd-shim-tsshim-v2's entry (see launcher.h): dispatch on the verb. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

extern char **environ;

#define STDIN_LIMIT (16 * 1024 * 1024)

/* The last failure of the start path, said only if the launcher itself fails:
 * anything on stderr before a successful answer would be read by containerd
 * as part of the address (it reads the verb's combined output). */
static char last_error[512];

void launcher_perror(const char *what) {
  snprintf(last_error, sizeof last_error, "tsshim-launcher: %s: %s", what, strerror(errno));
}

static int flag_is(const char *name, size_t len, const char *want) {
  return strlen(want) == len && strncmp(name, want, len) == 0;
}

/* Go's flag syntax: -name v, --name v, -name=v; booleans bare; flags end at
 * the first positional argument (the verb) or `--`. */
static void parse_args(int argc, char **argv, struct shim_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      if (i + 1 < argc) a->verb = argv[i + 1];
      return;
    }
    if (arg[0] != '-' || arg[1] == '\0') {
      a->verb = arg;
      return;
    }
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    if (flag_is(name, len, "debug") || flag_is(name, len, "v")) continue;
    const char *value = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (flag_is(name, len, "address")) a->address = value;
    else if (flag_is(name, len, "namespace")) a->namespace = value;
    else if (flag_is(name, len, "id")) a->id = value;
    else if (flag_is(name, len, "bundle")) a->bundle = value;
  }
}

static void mkdir_parents(const char *dir) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return;
  for (char *p = tmp + 1; *p != '\0'; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(tmp, 0711);
    *p = '/';
  }
  mkdir(tmp, 0711);
}

/* The Node `start` verb, given what we read of stdin again through a memfd. */
static void fall_back(const char *root, int argc, char **argv, const struct buf *in) {
  int mfd = memfd_create("tsshim-start-stdin", 0);
  if (mfd < 0 || write_all(mfd, in->data, in->len) < 0 || lseek(mfd, 0, SEEK_SET) < 0 || dup2(mfd, 0) < 0) {
    launcher_perror("passing stdin to the start verb");
    fprintf(stderr, "%s\n", last_error);
    exit(1);
  }
  close(mfd);
  if (setenv("TSSHIM_SPARE", "0", 1) < 0) {
    perror("containerd-shim-tsshim-v2: setenv");
    exit(1);
  }
  exec_node(root, NODE_BUNDLE, argc, argv);
}

/* One request over fd (closed here); 0 when a whole answer came back. */
static int exchange(int fd, int argc, char **argv, const struct buf *in, struct reply *r) {
  int rc = send_request(fd, argc, argv, environ, in);
  if (rc == 0) {
    rc = read_reply(fd, r);
    if (rc < 0) launcher_perror("reading the spare's answer");
  }
  close(fd);
  return rc;
}

static int start(const char *root, const struct shim_args *a, int argc, char **argv) {
  struct buf in = {0};
  if (buf_read_fd(&in, 0, STDIN_LIMIT) < 0) {
    perror("containerd-shim-tsshim-v2: reading stdin");
    return 1;
  }
  const char *dir = getenv("TSSHIM_SOCKET_DIR");
  if (dir == NULL || dir[0] == '\0') dir = DEFAULT_SOCKET_DIR;
  char path[PATH_MAX];
  if (a->address == NULL || a->address[0] == '\0' || spare_socket_path(path, sizeof path, dir, a->address) < 0)
    fall_back(root, argc, argv, &in);
  mkdir_parents(dir);

  struct reply r = {0};
  int got = -1;
  /* Only a spare that is ready: one still booting (its socket bound by the
   * launcher that started it) may be slow under load, and a start must not
   * wait for it. */
  int fd = spare_ready(path) ? connect_unix(path) : -1;
  if (fd >= 0) got = exchange(fd, argc, argv, &in, &r);
  /* No spare, or it was taken by another start: one for this request alone. */
  if (got < 0) {
    fd = spawn_private_spare(root, a->address);
    if (fd >= 0) got = exchange(fd, argc, argv, &in, &r);
  }
  if (got < 0) fall_back(root, argc, argv, &in);

  if (write_all(r.status == 0 ? 1 : 2, r.out.data, r.out.len) < 0) return 1;
  close(1);
  close(2);
  if (r.flags & LAUNCHER_ADOPTED) ensure_shared_spare(root, a->address, path);
  return r.status;
}

int main(int argc, char **argv) {
  /* A spare that goes away while we write to it must cost a fallback, not
   * the verb (containerd: "start failed: signal: broken pipe"). */
  signal(SIGPIPE, SIG_IGN);
  unsetenv("NODE_EXTRA_CA_CERTS");
  unsetenv("NODE_OPTIONS");
  char root[PATH_MAX];
  if (package_root(root, sizeof root) < 0) {
    perror("containerd-shim-tsshim-v2: finding the package root from /proc/self/exe");
    return 1;
  }
  struct shim_args a;
  parse_args(argc, argv, &a);
  const char *verb = a.verb != NULL ? a.verb : "";
  if (strcmp(verb, "start") == 0) {
    const char *spare = getenv("TSSHIM_SPARE");
    if (spare == NULL || strcmp(spare, "0") != 0) return start(root, &a, argc, argv);
  } else if (strcmp(verb, "delete") == 0) {
    if (delete_fast_path(&a)) return 0;
  } else if (argc == 4 && strcmp(argv[1], "-address") == 0 &&
             (strcmp(verb, "spare") == 0 || strcmp(verb, "adopt") == 0)) {
    exec_node(root, strcmp(verb, "adopt") == 0 ? NODE_SNAPSHOT_FAST : NODE_SNAPSHOT, argc, argv);
  }
  exec_node(root, NODE_BUNDLE, argc, argv);
}
