/* clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) + execve for plain helper processes; see proc_spawn.h. */
#include "proc_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pidfd.h"
#include "reaper.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* What the child needs beyond opts, all allocated before the clone. With CLONE_VM the
 * child writes high[] in the parent's memory; the parent is suspended until execve. */
struct spawn_child_ctx {
  const struct tsshim_spawn_opts *opts;
  int *high;       /* nfds slots: the map's sources, parked above the map */
  int errfd;       /* write end of the close-on-exec error pipe */
  sigset_t empty;  /* the child's signal mask at execve */
};

/* Child only: report one failure to the parent and die. Async-signal-safe. */
static _Noreturn void child_fail(int errfd, const char *step, const char *syscall, const char *detail,
                                 const char *path) {
  struct tsshim_error e;
  tsshim_error_errno(&e, step, syscall, detail, path);
  /* One write below PIPE_BUF is atomic; if it fails the parent sees exit 127 only. */
  ssize_t n = write(errfd, &e, sizeof e);
  (void)n;
  _exit(127);
}

static int close_fd_range(unsigned first, unsigned last) {
  if (first > last) return 0;
  return (int)syscall(SYS_close_range, first, last, 0);
}

/* Child only, from clone to execve: raw syscalls on data prepared by the parent. */
static _Noreturn void spawn_child(struct spawn_child_ctx *c) {
  const struct tsshim_spawn_opts *o = c->opts;
  int errfd = c->errfd;

  /* Node installs handlers (and ignores SIGPIPE); the helper starts from defaults. All
   * signals are still blocked here, so no handler of the parent can run in the copy. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)sigaction(sig, &dfl, NULL); /* EINVAL for the libc-reserved RT signals */
  }

  if (o->setsid) {
    if (setsid() < 0) child_fail(errfd, "setsid", "setsid", NULL, NULL);
  } else if (o->new_pgroup) {
    if (setpgid(0, 0) < 0) child_fail(errfd, "setpgid", "setpgid", NULL, NULL);
  }

  /* Park the error pipe and every source above the map so no dup3 below clobbers one. */
  if (errfd < o->nfds) {
    int moved = fcntl(errfd, F_DUPFD_CLOEXEC, o->nfds);
    if (moved < 0) child_fail(errfd, "fd map", "fcntl", "error pipe", NULL);
    errfd = moved;
  }
  for (int i = 0; i < o->nfds; i++) {
    int src = o->fds[i];
    if (src == TSSHIM_SPAWN_FD_DEVNULL) {
      int tmp = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (tmp < 0) child_fail(errfd, "fd map", "open", NULL, "/dev/null");
      c->high[i] = fcntl(tmp, F_DUPFD_CLOEXEC, o->nfds);
      if (c->high[i] < 0) child_fail(errfd, "fd map", "fcntl", "/dev/null", NULL);
      close(tmp);
    } else {
      c->high[i] = fcntl(src, F_DUPFD_CLOEXEC, o->nfds);
      if (c->high[i] < 0) child_fail(errfd, "fd map", "fcntl", "source fd", NULL);
    }
  }
  for (int i = 0; i < o->nfds; i++) {
    /* dup3 without O_CLOEXEC: the mapped fds are the ones that survive execve. */
    if (dup3(c->high[i], i, 0) < 0) child_fail(errfd, "fd map", "dup3", "target fd", NULL);
  }
  /* Everything but the map and the (close-on-exec) error pipe goes. */
  if (close_fd_range((unsigned)o->nfds, (unsigned)errfd - 1) < 0 ||
      close_fd_range((unsigned)errfd + 1, ~0U) < 0)
    child_fail(errfd, "close fds", "close_range", NULL, NULL);

  if (o->cwd != NULL && chdir(o->cwd) < 0) child_fail(errfd, "chdir", "chdir", NULL, o->cwd);

  if (sigprocmask(SIG_SETMASK, &c->empty, NULL) < 0)
    child_fail(errfd, "signal mask", "sigprocmask", NULL, NULL);

  execve(o->file, o->argv, o->envp);
  child_fail(errfd, "execve", "execve", NULL, o->file);
}

/* The child's own stack: with CLONE_VM it must not run on the parent's. */
#define SPAWN_STACK_SIZE (128 * 1024)

static int spawn_child_entry(void *arg) {
  spawn_child(arg);
}

/* vfork-style clone with CLONE_PIDFD: the child shares the parent's memory until execve
 * (the parent thread is suspended meanwhile), so no page table of the large Node
 * process is copied, and the pidfd is created atomically with the process. Where the
 * kernel refuses that (no CLONE_PIDFD), or when asked for, fork + pidfd_open.
 * Returns the pid in the parent (never returns in the child), -1 on failure. */
static pid_t spawn_clone(struct spawn_child_ctx *c, int *pidfd, int legacy_fork) {
  if (!legacy_fork) {
    long page = sysconf(_SC_PAGESIZE);
    size_t len = SPAWN_STACK_SIZE + (size_t)page;
    char *stack = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    /* A guard page below the stack turns an overflow into a fault, not corruption. */
    if (mprotect(stack, (size_t)page, PROT_NONE) < 0) {
      munmap(stack, len);
      return -1;
    }
    pid_t pid = clone(spawn_child_entry, stack + len, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, c, pidfd);
    int saved = errno;
    munmap(stack, len);
    errno = saved;
    if (pid >= 0 || (errno != EINVAL && errno != ENOSYS)) return pid;
  }
  *pidfd = -1;
  pid_t pid = fork();
  if (pid == 0) spawn_child(c);
  return pid;
}

int tsshim_proc_spawn(const struct tsshim_spawn_opts *opts, struct tsshim_spawn_result *res,
                      struct tsshim_error *err) {
  res->pid = -1;
  res->pidfd = -1;
  for (int i = 0; i < opts->nfds; i++) {
    if (opts->fds[i] != TSSHIM_SPAWN_FD_DEVNULL && fcntl(opts->fds[i], F_GETFD) < 0) {
      char detail[64];
      snprintf(detail, sizeof detail, "child fd %d <- fd %d", i, opts->fds[i]);
      return tsshim_error_errno(err, "fd map", "fcntl", detail, NULL);
    }
  }

  struct spawn_child_ctx c;
  c.opts = opts;
  c.high = calloc(opts->nfds > 0 ? (size_t)opts->nfds : 1, sizeof(int));
  if (c.high == NULL) return tsshim_error_set(err, ENOMEM, "spawn", "calloc", NULL, NULL);
  sigemptyset(&c.empty);

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    free(c.high);
    return tsshim_error_errno(err, "spawn", "pipe2", "error pipe", NULL);
  }
  c.errfd = pipefd[1];

  sigset_t all, old;
  sigfillset(&all);
  int rc = pthread_sigmask(SIG_SETMASK, &all, &old);
  if (rc != 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    free(c.high);
    return tsshim_error_set(err, rc, "spawn", "pthread_sigmask", NULL, NULL);
  }
  int pidfd = -1;
  pid_t pid = spawn_clone(&c, &pidfd, opts->legacy_fork);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(pipefd[1]);
  free(c.high);
  if (pid < 0) {
    close(pipefd[0]);
    return tsshim_error_set(err, clone_errno, "spawn", "clone", NULL, opts->file);
  }
  /* Fallback path: the child cannot be reaped before we return (the reaper runs on this
   * thread), so pidfd_open always finds it, zombie or not. */
  if (pidfd < 0) pidfd = tsshim_pidfd_open(pid, err);

  struct tsshim_error child_err;
  size_t got = 0;
  while (got < sizeof child_err) {
    ssize_t n = read(pipefd[0], (char *)&child_err + got, sizeof child_err - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(pipefd[0]);

  if (got == 0) {
    res->pid = pid;
    res->pidfd = pidfd;
    return 0;
  }
  /* The child failed before execve and exits 127 now: reap it here so the failure does
   * not also surface later as the exit of a process nobody knows. */
  struct tsshim_error reap_err;
  (void)tsshim_reaper_reap_one(pid, pidfd, NULL, &reap_err);
  if (pidfd >= 0) close(pidfd);
  if (got < sizeof child_err)
    return tsshim_error_set(err, EPROTO, "spawn", "read", "short error record from child", opts->file);
  *err = child_err;
  return -1;
}
