/* tsshim-launcher main: see launcher.h. The shell wrapper
 * bin/containerd-shim-tsshim-v2 execs it for `start` when it is built. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

extern char **environ;

#define STDIN_LIMIT (16 * 1024 * 1024)
#define DEFAULT_SOCKET_DIR "/run/containerd/s"

/* The last failure, said only if the launcher itself fails: anything on
 * stderr before a successful answer would be read by containerd as part of
 * the address (it reads the verb's combined output). */
static char last_error[512];

void launcher_perror(const char *what) {
  snprintf(last_error, sizeof last_error, "tsshim-launcher: %s: %s", what, strerror(errno));
}

/* The value of a Go-style string flag (-name v, --name v, -name=v), and the
 * first positional argument (the verb). */
static void parse_args(int argc, char **argv, const char **address, const char **verb) {
  static const char *bools[] = {"debug", "v", NULL};
  *address = NULL;
  *verb = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) *verb = argv[i + 1];
      return;
    }
    if (a[0] != '-' || a[1] == '\0') {
      *verb = a;
      return;
    }
    const char *name = a + (a[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
    int is_bool = 0;
    for (const char **b = bools; *b != NULL; b++) {
      if (strlen(*b) == nlen && strncmp(name, *b, nlen) == 0) is_bool = 1;
    }
    if (is_bool) continue;
    const char *value = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (nlen == 7 && strncmp(name, "address", 7) == 0) *address = value;
  }
}

/* bin/containerd-shim-tsshim-v2 of this checkout: we are build/Release/tsshim-launcher. */
static int wrapper_path(char *out, size_t size) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return -1;
  self[n] = '\0';
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(self, '/');
    if (slash == NULL) return -1;
    *slash = '\0';
  }
  if ((size_t)snprintf(out, size, "%s/bin/containerd-shim-tsshim-v2", self) >= size) return -1;
  return 0;
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
static void fall_back(const char *wrapper, char **argv, const struct buf *in) {
  if (in != NULL) {
    int mfd = memfd_create("tsshim-start-stdin", 0);
    if (mfd < 0 || write_all(mfd, in->data, in->len) < 0 || lseek(mfd, 0, SEEK_SET) < 0 ||
        dup2(mfd, 0) < 0) {
      launcher_perror("passing stdin to the start verb");
      fprintf(stderr, "%s\n", last_error);
      exit(1);
    }
    close(mfd);
  }
  if (setenv("TSSHIM_SPARE", "0", 1) < 0) {
    launcher_perror("setenv");
    fprintf(stderr, "%s\n", last_error);
    exit(1);
  }
  execv(wrapper, argv);
  launcher_perror("execv of the shim wrapper");
  fprintf(stderr, "%s\n", last_error);
  exit(1);
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

int main(int argc, char **argv) {
  char wrapper[PATH_MAX];
  if (wrapper_path(wrapper, sizeof wrapper) < 0) {
    perror("tsshim-launcher: finding bin/containerd-shim-tsshim-v2");
    return 1;
  }
  const char *address;
  const char *verb;
  parse_args(argc, argv, &address, &verb);
  if (verb == NULL || strcmp(verb, "start") != 0 || address == NULL || address[0] == '\0')
    fall_back(wrapper, argv, NULL);

  struct buf in = {0};
  if (buf_read_fd(&in, 0, STDIN_LIMIT) < 0) {
    perror("tsshim-launcher: reading stdin");
    return 1;
  }
  const char *dir = getenv("TSSHIM_SOCKET_DIR");
  if (dir == NULL || dir[0] == '\0') dir = DEFAULT_SOCKET_DIR;
  char path[PATH_MAX];
  if (spare_socket_path(path, sizeof path, dir, address) < 0) fall_back(wrapper, argv, &in);
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
    fd = spawn_private_spare(wrapper, address);
    if (fd >= 0) got = exchange(fd, argc, argv, &in, &r);
  }
  if (got < 0) fall_back(wrapper, argv, &in);

  if (write_all(r.status == 0 ? 1 : 2, r.out.data, r.out.len) < 0) return 1;
  close(1);
  close(2);
  if (r.flags & LAUNCHER_ADOPTED) ensure_shared_spare(wrapper, address, path);
  return r.status;
}
