/* Starting spare daemons. A spare is the shim's Node program (from the
 * startup snapshot) run with the arguments
 *   -address <containerd address> spare|adopt
 * and fd 3 its socket: a listening one for a shared spare (`spare`), or our
 * end of a socketpair for a spare started for one request (`adopt`). It gets
 * its own session, / as cwd and /dev/null as stdio (containerd reads the
 * verb's output until every writer is gone), and is reparented to init when
 * the launcher exits, as any shim daemon. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "launcher.h"

/* In the child: fd becomes 3, 0-2 are /dev/null, nothing else stays open. */
static void exec_spare(const char *root, const char *address, const char *mode, int fd) {
  char *argv[] = {"containerd-shim-tsshim-v2", "-address", (char *)address, (char *)mode, NULL};
  if (setsid() < 0) _exit(126);
  if (fd == 3) {
    if (fcntl(3, F_SETFD, 0) < 0) _exit(126);
  } else if (dup2(fd, 3) < 0) {
    _exit(126);
  }
  int null = open("/dev/null", O_RDWR);
  if (null < 0) _exit(126);
  for (int i = 0; i < 3; i++) {
    if (null != i && dup2(null, i) < 0) _exit(126);
  }
  if (null > 3) close(null);
  if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0) {
    for (int i = 4; i < 1024; i++) close(i);
  }
  if (chdir("/") < 0) _exit(126);
  /* A shared spare boots while the container that used its predecessor is
   * being created: at nice 10 it takes a tenth of a busy CPU's share. It
   * returns to the default once booted (src/shim/spare.ts); until then no
   * start waits for it (spare_ready). */
  if (strcmp(mode, "spare") == 0 && setpriority(PRIO_PROCESS, 0, 10) < 0) _exit(126);
  /* containerd's own signal dispositions must not reach the daemon. */
  signal(SIGPIPE, SIG_DFL);
  exec_node(root, strcmp(mode, "adopt") == 0 ? NODE_SNAPSHOT_FAST : NODE_SNAPSHOT, 4, argv);
  _exit(127);
}

int spawn_private_spare(const char *root, const char *address) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
    launcher_perror("socketpair");
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    launcher_perror("fork");
    close(sp[0]);
    close(sp[1]);
    return -1;
  }
  if (pid == 0) exec_spare(root, address, "adopt", sp[1]);
  close(sp[1]);
  return sp[0];
}

/* A listening socket at path, or -1 with errno (EADDRINUSE: someone has it). */
static int bind_listener(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof sa.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(sa.sun_path, path, len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* Only root (containerd) may talk to a spare: bind it 0600 from the start. */
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (rc < 0 || listen(fd, 128) < 0) {
    int saved = errno;
    if (rc == 0) unlink(path);
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

void ensure_shared_spare(const char *root, const char *address, const char *path) {
  int fd = bind_listener(path);
  if (fd < 0 && errno == EADDRINUSE) {
    int probe = connect_unix(path);
    if (probe >= 0) {
      close(probe); /* a spare listens (or is booting with its socket bound) */
      return;
    }
    if (errno != ECONNREFUSED) return;
    /* The file of a dead spare. Two launchers may both get here; the loser's
     * spare notices its path is gone and leaves (src/shim/spare.ts). */
    if (unlink(path) < 0 && errno != ENOENT) return;
    fd = bind_listener(path);
  }
  if (fd < 0) return;
  pid_t pid = fork();
  if (pid == 0) exec_spare(root, address, "spare", fd);
  if (pid < 0) unlink(path);
  close(fd);
}
