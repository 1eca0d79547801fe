/* Forking a booted spare: see fork_detached.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fork_detached.h"

/* V8 marks every page of its heap MADV_DONTFORK (so that child_process's
 * fork is cheap); a forked spare needs its heap. The ranges marked so (smaps'
 * VmFlags "dc") are copied on this fork, and the new shim marks them again:
 * its own clones (a container's init, an exec) must not copy the heap either —
 * they would write-protect it and every page the shim writes afterwards
 * would fault (exec 28 -> 34 ms, measured). Each fork reads the list afresh:
 * V8 adds pages as it goes. */
struct range {
  uintptr_t start, end;
};
static struct range *v8_ranges;
static size_t v8_count, v8_cap;

static int remember(uintptr_t start, uintptr_t end) {
  if (v8_count == v8_cap) {
    size_t cap = v8_cap == 0 ? 256 : v8_cap * 2;
    struct range *r = realloc(v8_ranges, cap * sizeof *r);
    if (r == NULL) return -1;
    v8_ranges = r;
    v8_cap = cap;
  }
  v8_ranges[v8_count].start = start;
  v8_ranges[v8_count].end = end;
  v8_count++;
  return 0;
}

static int copy_heap_on_fork(struct tsshim_error *err) {
  FILE *smaps = fopen("/proc/self/smaps", "re");
  if (smaps == NULL) return tsshim_error_errno(err, "fork a spare", "fopen", NULL, "/proc/self/smaps");
  char line[4096];
  uintptr_t start = 0, end = 0;
  v8_count = 0;
  int failed = 0;
  while (!failed && fgets(line, sizeof line, smaps) != NULL) {
    uintptr_t a, b;
    if (strncmp(line, "VmFlags:", 8) == 0) {
      if (strstr(line + 8, " dc") != NULL && end > start) failed = remember(start, end) < 0;
    } else if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
      start = a;
      end = b;
    }
  }
  if (failed) {
    fclose(smaps);
    errno = ENOMEM;
    return tsshim_error_errno(err, "fork a spare", "realloc", NULL, NULL);
  }
  if (ferror(smaps)) {
    fclose(smaps);
    errno = EIO;
    return tsshim_error_errno(err, "fork a spare", "read", NULL, "/proc/self/smaps");
  }
  fclose(smaps);
  for (size_t i = 0; i < v8_count; i++) {
    if (madvise((void *)v8_ranges[i].start, v8_ranges[i].end - v8_ranges[i].start, MADV_DOFORK) < 0)
      return tsshim_error_errno(err, "fork a spare", "madvise", "MADV_DOFORK", NULL);
  }
  return 0;
}

/* After the fork, in both processes: V8's pages back to what V8 made them. */
static void keep_heap_from_clones(void) {
  for (size_t i = 0; i < v8_count; i++)
    (void)madvise((void *)v8_ranges[i].start, v8_ranges[i].end - v8_ranges[i].start, MADV_DONTFORK);
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
  if (copy_heap_on_fork(err) < 0) return -1;
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
    keep_heap_from_clones();
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
  keep_heap_from_clones(); /* here too: the next fork's scan finds every V8 range again */
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
