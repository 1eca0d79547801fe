/* Forking a booted spare: see fork_detached.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fork_detached.h"

/* V8 marks every heap page MADV_DONTFORK (so that child_process's fork is
 * cheap); a forked spare needs its heap. Each fork re-marks every mapping
 * (pages V8 added since the last fork included); the kernel refuses this only
 * for special mappings ([vvar], [vsyscall]), which fork handles anyway. */
static int keep_mappings_on_fork(struct tsshim_error *err) {
  FILE *maps = fopen("/proc/self/maps", "re");
  if (maps == NULL) return tsshim_error_errno(err, "fork a spare", "fopen", NULL, "/proc/self/maps");
  char line[4096];
  while (fgets(line, sizeof line, maps) != NULL) {
    uintptr_t start, end;
    if (sscanf(line, "%lx-%lx", &start, &end) != 2 || end <= start) continue;
    (void)madvise((void *)start, end - start, MADV_DOFORK);
  }
  int failed = ferror(maps);
  fclose(maps);
  if (failed) {
    errno = EIO;
    return tsshim_error_errno(err, "fork a spare", "read", NULL, "/proc/self/maps");
  }
  return 0;
}

/* What the parent learns, in one pipe write (atomic: below PIPE_BUF): the
 * new process's pid, or the step that failed (1: the second fork, 2: setsid,
 * 3: uv_loop_fork) and its errno. Whichever of the middle process and the
 * new one writes it, it is the only record. */
struct fork_report {
  int pid;
  int step;
  int errnum;
};

static void report(int fd, int pid, int step, int errnum) {
  struct fork_report r = {.pid = pid, .step = step, .errnum = errnum};
  ssize_t n;
  do {
    n = write(fd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
}

int tsshim_fork_detached(uv_loop_t *loop, pid_t *child, struct tsshim_error *err) {
  if (keep_mappings_on_fork(err) < 0) return -1;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return tsshim_error_errno(err, "fork a spare", "pipe2", NULL, NULL);
  pid_t mid = fork();
  if (mid < 0) {
    int saved = errno;
    close(p[0]);
    close(p[1]);
    errno = saved;
    return tsshim_error_errno(err, "fork a spare", "fork", NULL, NULL);
  }
  if (mid == 0) {
    /* The middle process: fork the shim-to-be and go. */
    close(p[0]);
    pid_t pid = fork();
    if (pid < 0) report(p[1], 0, 1, errno);
    if (pid != 0) _exit(0);
    int step = 0, errnum = 0;
    if (setsid() < 0) {
      step = 2;
      errnum = errno;
    } else {
      int rc = uv_loop_fork(loop);
      if (rc < 0) {
        step = 3;
        errnum = -rc;
      }
    }
    report(p[1], getpid(), step, errnum);
    close(p[1]);
    if (step != 0) _exit(70);
    return 1;
  }
  close(p[1]);
  struct fork_report r = {0};
  ssize_t n;
  do {
    n = read(p[0], &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  int saved = errno;
  close(p[0]);
  int wstatus;
  while (waitpid(mid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (n != (ssize_t)sizeof r) {
    errno = n < 0 ? saved : EPIPE;
    return tsshim_error_errno(err, "fork a spare", "read", "the forked shim's report", NULL);
  }
  if (r.step != 0) {
    /* A shim-to-be that failed exits by itself (70), reparented to init. */
    static const char *const steps[] = {"", "fork", "setsid", "uv_loop_fork"};
    errno = r.errnum;
    return tsshim_error_errno(err, "fork a spare", steps[r.step & 3], NULL, NULL);
  }
  if (r.pid <= 0) {
    errno = EPROTO;
    return tsshim_error_errno(err, "fork a spare", "read", "the forked shim's report", NULL);
  }
  *child = r.pid;
  return 0;
}
