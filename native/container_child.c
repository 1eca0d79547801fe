/* The container's init, from clone to execve. Async-signal-safe only: raw
 * syscalls on the plan the parent marshalled (DESIGN rule 1).
 *
 * Order: wait for the parent's "mapped" → join the v1 cgroups → time namespace → become root of a new
 * user namespace → cgroup namespace → hostname → rootfs (mounts, /dev, pivot_root) → then
 * tsshim_process_run: stdio/PTY → finalize (masked/readonly paths, sysctl,
 * readonly root) → limits → [seccomp without NNP] → bounding → cwd → identity →
 * caps → NNP → close fds → resolve argv[0] → ready → wait for start →
 * [seccomp with NNP] → execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"
#include "container_cgroup.h"
#include "container_sync.h"
#include "rootfs.h"
#include "seccomp.h"

/* Weak while rootfs.c is being written: NULL means the built-in fallback. */
#pragma weak tsshim_rootfs_mount
#pragma weak tsshim_rootfs_finalize

static size_t cstr_len(const char *s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  return n;
}

static int has_slash(const char *s) {
  for (; *s != '\0'; s++)
    if (*s == '/') return 1;
  return 0;
}

/* TEMPORARY until the rootfs plan lands everywhere: bind bundle/rootfs, mount a
 * fresh /proc, pivot_root into it. Used only when the plan carries no rootfs plan. */
static int fallback_rootfs(const struct tsshim_container_plan *plan, struct tsshim_error *err) {
  const char *root = plan->rootfs_path;
  if (!(plan->clone_flags & CLONE_NEWNS)) {
    if (chroot(root) < 0) return tsshim_error_errno(err, "rootfs", "chroot", NULL, root);
    if (chdir("/") < 0) return tsshim_error_errno(err, "rootfs", "chdir", NULL, "/");
    return 0;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return tsshim_error_errno(err, "rootfs", "mount", "rprivate", "/");
  if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) return tsshim_error_errno(err, "mount", "mount", root, root);
  if (chdir(root) < 0) return tsshim_error_errno(err, "rootfs", "chdir", NULL, root);
  if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    return tsshim_error_errno(err, "mount", "mount", "proc", "/proc");
  /* Best effort: a PTY needs a devpts; the busybox test rootfs has dev/pts. */
  struct stat st;
  if (stat("dev/pts", &st) == 0 &&
      mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
    return tsshim_error_errno(err, "mount", "mount", "devpts", "/dev/pts");
  if (syscall(SYS_pivot_root, ".", ".") < 0) return tsshim_error_errno(err, "rootfs", "pivot_root", NULL, root);
  if (umount2(".", MNT_DETACH) < 0) return tsshim_error_errno(err, "rootfs", "umount2", "old root", "/");
  if (chdir("/") < 0) return tsshim_error_errno(err, "rootfs", "chdir", NULL, "/");
  if (plan->rootfs_readonly && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
    return tsshim_error_errno(err, "rootfs", "mount", "readonly", "/");
  return 0;
}

static int init_finalize(const struct tsshim_container_plan *plan, struct tsshim_error *err) {
  if (plan->rootfs != NULL && tsshim_rootfs_finalize != NULL) return tsshim_rootfs_finalize(plan->rootfs, err);
  return 0;
}

/* In a user namespace created for us or joined, our host uid is not mapped until we
 * switch to the namespace's root (runc does the same). */
static int in_user_ns(const struct tsshim_container_plan *plan) {
  if (plan->new_user) return 1;
  for (size_t i = 0; i < plan->n_joins; i++)
    if (plan->joins[i].nstype == CLONE_NEWUSER) return 1;
  return 0;
}

/* "mapped" brings the v1 `tasks` fds to join: done first, so before a new cgroup namespace. */
static void wait_mapped(const struct tsshim_container_plan *plan, int sock) {
  struct tsshim_sync_msg msg;
  int fds[TSSHIM_SYNC_MAX_FDS];
  size_t n = 0;
  if (tsshim_sync_recv_fds(sock, &msg, fds, TSSHIM_SYNC_MAX_FDS, &n) < 0 || msg.type != TSSHIM_SYNC_MAPPED) _exit(1);
  struct tsshim_error err;
  __builtin_memset(&err, 0, sizeof err);
  if (tsshim_container_cgroup_join(plan, fds, n, &err) < 0) tsshim_child_fail(sock, &err);
}

void tsshim_container_child_init(const struct tsshim_container_plan *plan, int sock) {
  struct tsshim_error err;
  __builtin_memset(&err, 0, sizeof err);
  wait_mapped(plan, sock);
  if (tsshim_ns_time_new(plan, &err) < 0) tsshim_child_fail(sock, &err);
  if (in_user_ns(plan) && tsshim_ns_become_root(&err) < 0) tsshim_child_fail(sock, &err);
  if (tsshim_ns_cgroup_new(plan, &err) < 0) tsshim_child_fail(sock, &err);
  if (tsshim_ns_uts_apply(plan, &err) < 0) tsshim_child_fail(sock, &err);
  if (plan->rootfs != NULL && tsshim_rootfs_mount != NULL) {
    if (tsshim_rootfs_mount(plan->rootfs, &err) < 0) tsshim_child_fail(sock, &err);
  } else if (fallback_rootfs(plan, &err) < 0) {
    tsshim_child_fail(sock, &err);
  }
  tsshim_process_run(plan, sock, init_finalize);
}

void tsshim_exec_child(const struct tsshim_container_plan *plan, int sock) {
  struct tsshim_error err;
  __builtin_memset(&err, 0, sizeof err);
  wait_mapped(plan, sock);
  if (in_user_ns(plan) && tsshim_ns_become_root(&err) < 0) tsshim_child_fail(sock, &err);
  tsshim_process_run(plan, sock, NULL);
}

/* 0-2 from the caller's stdio (or /dev/null) and 3.. from its preserved fds. Every
 * source is first copied above all targets, so no dup2 clobbers a later source;
 * the sync socket is moved out of the way the same way. */
static int setup_fds(const struct tsshim_process_plan *p, int with_stdio, int *sock, struct tsshim_error *err) {
  int top = 3 + (int)p->n_extra_fds;
  if (p->n_extra_fds == 0 && !with_stdio) return 0;
  if (*sock < top) {
    int moved = fcntl(*sock, F_DUPFD_CLOEXEC, top);
    if (moved < 0) return tsshim_error_errno(err, "stdio", "fcntl", "sync socket", NULL);
    close(*sock);
    *sock = moved;
  }
  int tmp[3 + TSSHIM_MAX_EXTRA_FDS];
  int n = 3 + (int)p->n_extra_fds;
  for (int i = 0; i < n; i++) {
    tmp[i] = -1;
    if (i < 3 && !with_stdio) continue;
    int src = i < 3 ? (p->stdio[i] >= 0 ? p->stdio[i] : p->dev_null_fd) : p->extra_fds[i - 3];
    tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, top);
    if (tmp[i] < 0) return tsshim_error_errno(err, "stdio", "fcntl", "F_DUPFD_CLOEXEC", NULL);
  }
  for (int i = 0; i < n; i++) {
    if (tmp[i] < 0) continue;
    if (dup2(tmp[i], i) < 0) return tsshim_error_errno(err, "stdio", "dup2", NULL, NULL);
    close(tmp[i]);
  }
  return 0;
}

/* Rule 2: only 0-2, the preserved fds, the CLOEXEC sync socket and the PTY
 * master (sent to the parent, then closed) survive. */
static int close_host_fds(const struct tsshim_process_plan *p, int sock, int master, struct tsshim_error *err) {
  unsigned int first = 3 + (unsigned int)p->n_extra_fds;
  unsigned int keep[2] = {(unsigned int)sock, master >= 0 ? (unsigned int)master : ~0U};
  if (keep[1] < keep[0]) {
    unsigned int t = keep[0];
    keep[0] = keep[1];
    keep[1] = t;
  }
  unsigned int from = first;
  for (int i = 0; i < 2; i++) {
    if (keep[i] == ~0U || keep[i] < from) continue;
    if (keep[i] > from && syscall(SYS_close_range, from, keep[i] - 1, 0) < 0)
      return tsshim_error_errno(err, "close fds", "close_range", NULL, NULL);
    from = keep[i] + 1;
  }
  if (syscall(SYS_close_range, from, ~0U, 0) < 0) return tsshim_error_errno(err, "close fds", "close_range", NULL, NULL);
  return 0;
}

/* execvpe semantics without allocation: resolve argv[0] on the container's PATH now,
 * so a missing binary fails create (as runc does), and exec the result at start. */
static int resolve_exe(const struct tsshim_process_plan *p, char *buf, size_t cap, struct tsshim_error *err) {
  const char *name = p->argv[0];
  struct stat st;
  size_t nlen = cstr_len(name);
  if (has_slash(name)) {
    if (nlen + 1 > cap) return tsshim_error_set(err, ENAMETOOLONG, "execve", "execve", name, NULL);
    __builtin_memcpy(buf, name, nlen + 1);
    if (stat(buf, &st) < 0) return tsshim_error_errno(err, "execve", "stat", name, NULL);
    return 0;
  }
  const char *path = p->search_path;
  int saw_eacces = 0;
  while (1) {
    const char *end = path;
    while (*end != '\0' && *end != ':') end++;
    size_t dlen = (size_t)(end - path);
    if (dlen == 0) {
      buf[0] = '.';
      dlen = 1;
    } else if (dlen < cap) {
      __builtin_memcpy(buf, path, dlen);
    }
    if (dlen + 1 + nlen + 1 <= cap) {
      buf[dlen] = '/';
      __builtin_memcpy(buf + dlen + 1, name, nlen + 1);
      if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
        if (st.st_mode & 0111) return 0;
        saw_eacces = 1;
      }
    }
    if (*end == '\0') break;
    path = end + 1;
  }
  return tsshim_error_set(err, saw_eacces ? EACCES : ENOENT, "execve", "execve", name, NULL);
}

static int install_seccomp(const struct tsshim_process_plan *p, struct tsshim_error *err) {
  return tsshim_seccomp_install(p->seccomp, p->seccomp_len, p->seccomp_flags, err);
}

/* Until execve we may be the init of a PID namespace, which the kernel shields from
 * every default-action signal but SIGKILL/SIGSTOP: a SIGTERM sent to a created
 * container would be lost. Catch the usual termination signals and exit with
 * 128 + signal, as a shell would report it; execve resets these handlers. */
static void exit_on_signal(int sig) { _exit(128 + sig); }

static void catch_termination_signals(void) {
  static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE};
  struct sigaction sa;
  __builtin_memset(&sa, 0, sizeof sa);
  sa.sa_handler = exit_on_signal;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

void tsshim_process_run(const struct tsshim_container_plan *plan, int sock, tsshim_finalize_fn finalize) {
  const struct tsshim_process_plan *p = &plan->proc;
  struct tsshim_error err;
  __builtin_memset(&err, 0, sizeof err);
  char exe[4096];
  int master = -1;
  catch_termination_signals();

  if (setup_fds(p, !p->terminal, &sock, &err) < 0) goto fail;
  if (setsid() < 0) {
    tsshim_error_errno(&err, "session", "setsid", NULL, NULL);
    goto fail;
  }
  if (p->terminal && tsshim_pty_setup(p, &master, &err) < 0) goto fail;
  if (finalize != NULL && finalize(plan, &err) < 0) goto fail;
  if (tsshim_limits_apply(p, &err) < 0) goto fail;
  /* Without NNP an unprivileged user may not load a filter: load it while we still
   * hold CAP_SYS_ADMIN, as runc does; the profile must then allow what follows. */
  if (p->seccomp != NULL && !p->no_new_privs && install_seccomp(p, &err) < 0) goto fail;
  if (tsshim_caps_drop_bounding(&p->caps, &err) < 0) goto fail;
  if (chdir(p->cwd) < 0) {
    tsshim_error_errno(&err, "cwd", "chdir", NULL, p->cwd);
    goto fail;
  }
  if (tsshim_identity_apply(p, &err) < 0) goto fail;
  if (tsshim_caps_apply(&p->caps, &err) < 0) goto fail;
  if (p->no_new_privs && tsshim_caps_no_new_privs(&err) < 0) goto fail;
  if (resolve_exe(p, exe, sizeof exe, &err) < 0) goto fail;
  if (close_host_fds(p, sock, master, &err) < 0) goto fail;
  if (tsshim_sync_send(sock, TSSHIM_SYNC_READY, 0, NULL, master) < 0) _exit(1);
  if (master >= 0) close(master);
  master = -1;

  struct tsshim_sync_msg msg;
  if (tsshim_sync_recv(sock, &msg, NULL) < 0 || msg.type != TSSHIM_SYNC_START) _exit(1);
  if (p->seccomp != NULL && p->no_new_privs && install_seccomp(p, &err) < 0) goto fail;
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  execve(exe, p->argv, p->envp);
  tsshim_error_errno(&err, "execve", "execve", p->argv[0], NULL);
fail:
  if (master >= 0) close(master);
  tsshim_sync_send(sock, TSSHIM_SYNC_ERROR, 0, &err, -1);
  _exit(127);
}
