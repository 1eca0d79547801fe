/* See rootfs_testrun.h. The child only makes raw syscalls on memory prepared before clone. */
#include "rootfs_testrun.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static void child_fail(int errfd, const struct tsshim_error *e) {
  ssize_t n = write(errfd, e, sizeof *e);
  (void)n;
  _exit(126);
}

static void child_main(const struct tsshim_rootfs_testrun *run, int outw, int errw, int syncr) {
  struct tsshim_error e = {0};
  if (run->clone_flags & CLONE_NEWUSER) {
    char c;
    if (read(syncr, &c, 1) != 1) {
      tsshim_error_errno(&e, "user namespace", "read", "sync", "");
      child_fail(errw, &e);
    }
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(outw, 1) < 0 || dup2(outw, 2) < 0) {
    tsshim_error_errno(&e, "stdio", "dup2", "", "");
    child_fail(errw, &e);
  }
  if (tsshim_rootfs_mount(run->plan, &e) < 0) child_fail(errw, &e);
  if (run->console) {
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int unlock = 0;
    if (m < 0 || ioctl(m, TIOCSPTLCK, &unlock) < 0) {
      tsshim_error_errno(&e, "terminal", "open", "ptmx", "/dev/ptmx");
      child_fail(errw, &e);
    }
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
      tsshim_error_errno(&e, "terminal", "ioctl", "TIOCGPTPEER", "/dev/ptmx");
      child_fail(errw, &e);
    }
    if (tsshim_rootfs_console(s, &e) < 0) child_fail(errw, &e);
  }
  if (tsshim_rootfs_finalize(run->plan, &e) < 0) child_fail(errw, &e);
  /* Only 0, 1, 2 reach the command; the error pipe closes on a successful execve. */
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    tsshim_error_errno(&e, "close fds", "close_range", "", "");
    child_fail(errw, &e);
  }
  execve(run->argv[0], run->argv, run->envp);
  tsshim_error_errno(&e, "exec", "execve", run->argv[0], run->argv[0]);
  child_fail(errw, &e);
}

static int write_file(const char *path, const char *data, struct tsshim_error *err) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return tsshim_error_errno(err, "user namespace", "open", data, path);
  size_t len = strlen(data);
  ssize_t n = write(fd, data, len);
  int e = errno;
  close(fd);
  if (n != (ssize_t)len) {
    errno = n < 0 ? e : EIO;
    return tsshim_error_errno(err, "user namespace", "write", data, path);
  }
  return 0;
}

static int write_maps(pid_t pid, const struct tsshim_rootfs_testrun *run, struct tsshim_error *err) {
  char path[64], line[96];
  snprintf(line, sizeof line, "0 %u %u\n", run->host_uid, run->id_count);
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
  if (write_file(path, line, err) < 0) return -1;
  snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
  if (write_file(path, "deny", err) < 0) return -1;
  snprintf(line, sizeof line, "0 %u %u\n", run->host_gid, run->id_count);
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
  return write_file(path, line, err);
}

int tsshim_rootfs_testrun_run(const struct tsshim_rootfs_testrun *run, char *out, size_t cap, size_t *out_len,
                              int *status, int *child_failed, struct tsshim_error *child_err,
                              struct tsshim_error *err) {
  int outp[2] = {-1, -1}, errp[2] = {-1, -1}, syncp[2] = {-1, -1};
  *out_len = 0;
  *child_failed = 0;
  if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(syncp, O_CLOEXEC) < 0) {
    tsshim_error_errno(err, "testrun", "pipe2", "", "");
    goto fail;
  }
  long pid = syscall(SYS_clone, (unsigned long)(SIGCHLD | CLONE_NEWNS | run->clone_flags), NULL, NULL, NULL, 0UL);
  if (pid < 0) {
    tsshim_error_errno(err, "testrun", "clone", "", "");
    goto fail;
  }
  if (pid == 0) child_main(run, outp[1], errp[1], syncp[0]);

  close(outp[1]);
  close(errp[1]);
  close(syncp[0]);
  outp[1] = errp[1] = syncp[0] = -1;
  int parent_failed = 0;
  if (run->clone_flags & CLONE_NEWUSER) {
    if (write_maps((pid_t)pid, run, err) < 0) {
      parent_failed = 1;
      kill((pid_t)pid, SIGKILL);
    } else if (write(syncp[1], "x", 1) != 1) {
      tsshim_error_errno(err, "testrun", "write", "sync", "");
      parent_failed = 1;
      kill((pid_t)pid, SIGKILL);
    }
  }
  close(syncp[1]);
  syncp[1] = -1;

  char drop[4096];
  for (;;) {
    ssize_t n = *out_len < cap ? read(outp[0], out + *out_len, cap - *out_len) : read(outp[0], drop, sizeof drop);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (*out_len < cap) *out_len += (size_t)n;
  }
  ssize_t n;
  do n = read(errp[0], child_err, sizeof *child_err);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof *child_err) *child_failed = 1;
  close(outp[0]);
  close(errp[0]);

  int ws = 0;
  while (waitpid((pid_t)pid, &ws, 0) < 0) {
    if (errno != EINTR) return tsshim_error_errno(err, "testrun", "waitpid", "", "");
  }
  *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  return parent_failed ? -1 : 0;

fail:
  for (int i = 0; i < 2; i++) {
    if (outp[i] >= 0) close(outp[i]);
    if (errp[i] >= 0) close(errp[i]);
    if (syncp[i] >= 0) close(syncp[i]);
  }
  return -1;
}
