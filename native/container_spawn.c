/* Spawning the container's process: clone3 + the sync channel.
 *
 * Fast path (nothing to join): one clone3 with CLONE_PIDFD, CLONE_INTO_CGROUP and
 * every new namespace at once, the user namespace among them so it owns the others.
 * Join path (namespaces given by path, and every exec): an intermediate child joins
 * them (user first), then clones the final process with CLONE_PARENT so it is our
 * child, in the joined PID namespace and owning any new namespaces; it sends us the
 * final pid + pidfd and exits, and we reap it here, synchronously.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* struct clone_args (linux/sched.h), spelled out to stay clear of glibc's sched.h. */
struct tsshim_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};

static long tsshim_clone3(uint64_t flags, int *pidfd, int cgroup_fd) {
  struct tsshim_clone_args a;
  __builtin_memset(&a, 0, sizeof a);
  a.flags = flags | CLONE_PIDFD;
  a.pidfd = (uint64_t)(uintptr_t)pidfd;
  /* With CLONE_PARENT the kernel takes the caller's exit signal (SIGCHLD here) and
   * rejects any other value. */
  a.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
  if (cgroup_fd >= 0) {
    a.flags |= CLONE_INTO_CGROUP;
    a.cgroup = (uint64_t)cgroup_fd;
  }
  return syscall(SYS_clone3, &a, sizeof a);
}

/* First thing in every child: the copy of node must not be inspectable or
 * reopenable through /proc (CVE-2019-5736 class), must die with us during setup,
 * and must not inherit node's signal handlers or mask. */
static void child_prologue(const sigset_t *old_mask) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  struct sigaction dfl;
  __builtin_memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < 65; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    sigaction(s, &dfl, NULL); /* glibc-reserved numbers fail with EINVAL: harmless */
  }
  sigset_t none;
  sigemptyset(&none);
  (void)old_mask;
  sigprocmask(SIG_SETMASK, &none, NULL);
}

void tsshim_child_fail(int sock, const struct tsshim_error *err) {
  tsshim_sync_send(sock, TSSHIM_SYNC_ERROR, 0, err, -1);
  _exit(1);
}

__attribute__((noreturn)) static void child_body(const struct tsshim_container_plan *plan,
                                                 enum tsshim_spawn_kind kind, int sock) {
  if (kind == TSSHIM_SPAWN_EXEC) tsshim_exec_child(plan, sock);
  tsshim_container_child_init(plan, sock);
}

/* The intermediate of the join path. */
__attribute__((noreturn)) static void child_intermediate(const struct tsshim_container_plan *plan,
                                                         enum tsshim_spawn_kind kind, int sock) {
  struct tsshim_error err;
  __builtin_memset(&err, 0, sizeof err);
  if (tsshim_ns_join_all(plan, &err) < 0) tsshim_child_fail(sock, &err);
  int pidfd = -1;
  long pid = tsshim_clone3(plan->clone_flags | CLONE_PARENT, &pidfd, -1);
  if (pid < 0) {
    tsshim_error_errno(&err, "clone", "clone3", "final process", NULL);
    tsshim_child_fail(sock, &err);
  }
  if (pid == 0) {
    /* Our PDEATHSIG parent is node's thread too (CLONE_PARENT). */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    child_body(plan, kind, sock);
  }
  tsshim_sync_send(sock, TSSHIM_SYNC_PID, (int32_t)pid, NULL, pidfd);
  _exit(0);
}

static int wait_readable(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int r;
  do r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0) errno = ETIMEDOUT;
  return r > 0 ? 0 : -1;
}

int tsshim_container_spawn(const struct tsshim_container_plan *plan, enum tsshim_spawn_kind kind,
                           struct tsshim_spawn_result *out, struct tsshim_error *err) {
  out->pid = -1;
  out->pidfd = -1;
  out->sock = -1;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return tsshim_error_errno(err, "sync channel", "socketpair", NULL, NULL);

  /* Block every signal around clone so no node handler runs in the child. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int two_stage = plan->n_joins > 0;
  int pidfd = -1;
  long pid = tsshim_clone3(two_stage ? 0 : plan->clone_flags, &pidfd, plan->cgroup_fd);
  if (pid == 0) {
    close(sv[0]);
    child_prologue(&old);
    if (two_stage) child_intermediate(plan, kind, sv[1]);
    child_body(plan, kind, sv[1]);
  }
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    errno = clone_errno;
    return tsshim_error_errno(err, "clone", "clone3", kind == TSSHIM_SPAWN_INIT ? "init" : "exec", NULL);
  }
  if (!two_stage) {
    out->pid = (int)pid;
    out->pidfd = pidfd;
    out->sock = sv[0];
    return 0;
  }

  /* Join path: learn the final process from the intermediate, then reap it. */
  struct tsshim_sync_msg msg;
  int final_pidfd = -1;
  int rc = wait_readable(sv[0], 10000);
  if (rc == 0) rc = tsshim_sync_recv(sv[0], &msg, &final_pidfd);
  int saved = errno;
  if (rc < 0) kill((pid_t)pid, SIGKILL);
  siginfo_t si;
  /* ECHILD: a process-wide reaper got there first, which is fine. */
  while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR) {
  }
  close(pidfd);
  if (rc < 0) {
    close(sv[0]);
    errno = saved;
    return tsshim_error_errno(err, "join namespaces", "recvmsg", "sync channel", NULL);
  }
  if (msg.type == TSSHIM_SYNC_ERROR) {
    *err = msg.err;
    close(sv[0]);
    if (final_pidfd >= 0) close(final_pidfd);
    return -1;
  }
  if (msg.type != TSSHIM_SYNC_PID || final_pidfd < 0) {
    close(sv[0]);
    if (final_pidfd >= 0) close(final_pidfd);
    return tsshim_error_set(err, EPROTO, "join namespaces", "recvmsg", "unexpected sync message", NULL);
  }
  out->pid = msg.pid;
  out->pidfd = final_pidfd;
  out->sock = sv[0];
  return 0;
}
