/* The process title: see proc_title.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc_title.h"

/* The current command line buffer; the kernel reads it for as long as we live. */
static char *cmdline;

/* The command line lives in the mm's [arg_start, arg_end). PR_SET_MM_MAP
 * replaces the whole map at once: unlike the single-field PR_SET_MM calls it
 * needs no CAP_SYS_RESOURCE (container hosts often drop it), only that the
 * fields stay consistent, so every other field is read back from
 * /proc/self/stat and the current brk. */
static int point_cmdline(char *start, char *end, struct tsshim_error *err) {
  char stat[2048];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tsshim_error_errno(err, "set the command line", "open", NULL, "/proc/self/stat");
  ssize_t n = read(fd, stat, sizeof stat - 1);
  int saved = errno;
  close(fd);
  if (n <= 0) {
    errno = n < 0 ? saved : EIO;
    return tsshim_error_errno(err, "set the command line", "read", NULL, "/proc/self/stat");
  }
  stat[n] = '\0';
  /* Fields after the command name, numbered as in proc(5): field 3 first. */
  char *p = strrchr(stat, ')');
  unsigned long long f[53] = {0};
  if (p == NULL) {
    errno = EIO;
    return tsshim_error_errno(err, "set the command line", "parse", NULL, "/proc/self/stat");
  }
  p += 2;
  for (int i = 3; i <= 51 && *p != '\0'; i++) {
    if (i == 3) {
      p += 2; /* the state letter */
      continue;
    }
    f[i] = strtoull(p, &p, 10);
    if (*p == ' ') p++;
  }
  struct prctl_mm_map map = {
      .start_code = f[26],
      .end_code = f[27],
      .start_stack = f[28],
      .start_data = f[45],
      .end_data = f[46],
      .start_brk = f[47],
      .brk = (unsigned long)syscall(SYS_brk, 0),
      .arg_start = (unsigned long)start,
      .arg_end = (unsigned long)end,
      .env_start = f[50],
      .env_end = f[51],
      .auxv = NULL,
      .auxv_size = 0,
      .exe_fd = (unsigned int)-1,
  };
  if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&map, sizeof map, 0) < 0)
    return tsshim_error_errno(err, "set the command line", "prctl", "PR_SET_MM_MAP", NULL);
  return 0;
}

int tsshim_proc_set_title(const char *name, char *const *argv, int argc, struct tsshim_error *err) {
  if (name != NULL && prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0) < 0)
    return tsshim_error_errno(err, "set the process name", "prctl", "PR_SET_NAME", name);
  if (argv == NULL || argc == 0) return 0;
  size_t len = 0;
  for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
  char *buf = malloc(len);
  if (buf == NULL) return tsshim_error_errno(err, "set the command line", "malloc", NULL, NULL);
  char *p = buf;
  for (int i = 0; i < argc; i++) {
    size_t n = strlen(argv[i]) + 1;
    memcpy(p, argv[i], n);
    p += n;
  }
  /* arg_end points one past the last NUL, as execve leaves it. */
  if (point_cmdline(buf, buf + len, err) < 0) {
    free(buf);
    return -1;
  }
  /* The previous buffer is no longer referenced (the original lives on the stack). */
  free(cmdline);
  cmdline = buf;
  return 0;
}
