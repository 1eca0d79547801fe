/* Running the shim's Node program: the one place that knows Node's flags and
 * where the bundle and the startup snapshot are. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

static const char *const NODE_FLAGS[] = {
#include "node_flags.inc"
    NULL};

int package_root(char *out, size_t size) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return -1;
  self[n] = '\0';
  /* <root>/build/Release/tsshim-launcher */
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(self, '/');
    if (slash == NULL) {
      errno = ENOENT;
      return -1;
    }
    *slash = '\0';
  }
  if ((size_t)snprintf(out, size, "%s", self) >= size) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

void exec_node(const char *root, enum node_entry entry, int argc, char **argv) {
  char script[PATH_MAX + 64];
  char **args = calloc((size_t)argc + 8, sizeof(char *));
  if (args == NULL) {
    perror("containerd-shim-tsshim-v2: calloc");
    exit(1);
  }
  int n = 0;
  args[n++] = "node";
  for (const char *const *f = NODE_FLAGS; *f != NULL; f++) args[n++] = (char *)*f;
  int snapshot = 0;
  /* Node keeps the whole blob in each process booted from it: +6 MiB PSS
   * for the shim's whole life, for a boot of 60 ms of CPU instead of 130.
   * The shared spare boots off the critical path, so by default every spare
   * boots lean from the bundle. TSSHIM_SNAPSHOT=1: every spare from the
   * snapshot; =burst: only a spare started for one waiting request (bursts
   * of starts, each booting its own: 30 parallel starts 2.3x -> 1.6x
   * runc-v2, at +6 MiB for each of those shims; README, Performance). */
  if (entry != NODE_BUNDLE) {
    const char *mode = getenv("TSSHIM_SNAPSHOT");
    int want = mode != NULL && (strcmp(mode, "1") == 0 || (strcmp(mode, "burst") == 0 && entry == NODE_SNAPSHOT_FAST));
    snprintf(script, sizeof script, "%s/dist/snapshot/daemon.blob", root);
    struct stat st;
    snapshot = want && stat(script, &st) == 0;
  }
  if (snapshot) {
    args[n++] = "--snapshot-blob";
    args[n++] = script;
    args[n++] = "--";
  } else {
    snprintf(script, sizeof script, "%s/dist/bundle/main.mjs", root);
    args[n++] = script;
  }
  /* How a shim booted, readable in /proc/PID/environ (tests, operators). */
  if (entry != NODE_BUNDLE && setenv("TSSHIM_BOOT", snapshot ? "snapshot" : "bundle", 1) < 0) {
    perror("containerd-shim-tsshim-v2: setenv");
    exit(1);
  }
  for (int i = 1; i < argc; i++) args[n++] = argv[i];
  args[n] = NULL;
  /* The launcher ignores SIGPIPE (a spare may close on it); Node sets its own. */
  signal(SIGPIPE, SIG_DFL);
  execvp("node", args);
  fprintf(stderr, "containerd-shim-tsshim-v2: cannot run node: %s\n", strerror(errno));
  exit(1);
}
