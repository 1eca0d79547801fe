/* /dev/console for a container with a terminal: the PTY slave bind-mounted over it, as
 * runc and crun do, so programs that write to /dev/console reach the terminal. Called in
 * the child after pivot_root, once the slave exists; async-signal-safe. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mounts.h"
#include "rootfs.h"

/* "/dev/pts/<n>" for a Unix98 PTY slave (majors 136-143), from its device number. */
static int pts_path(int slave_fd, char *buf, size_t cap) {
  struct stat st;
  if (fstat(slave_fd, &st) < 0) return -1;
  unsigned int major = major(st.st_rdev), minor = minor(st.st_rdev);
  if (!S_ISCHR(st.st_mode) || major < 136 || major > 143) {
    errno = ENOTTY;
    return -1;
  }
  unsigned int n = (major - 136) * 256 + minor;
  static const char prefix[] = "/dev/pts/";
  size_t i = 0;
  for (; prefix[i] != '\0'; i++) buf[i] = prefix[i];
  char digits[12];
  int k = 0;
  do {
    digits[k++] = (char)('0' + n % 10);
    n /= 10;
  } while (n != 0);
  if (i + (size_t)k + 1 > cap) {
    errno = ENAMETOOLONG;
    return -1;
  }
  while (k > 0) buf[i++] = digits[--k];
  buf[i] = '\0';
  return 0;
}

int tsshim_rootfs_console(int slave_fd, struct tsshim_error *err) {
  int dev = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dev < 0) return tsshim_error_errno(err, "console", "open", "", "/dev");
  /* The mount point: an empty file. Anything else the image put there (a node, a link) goes. */
  struct stat st;
  if (fstatat(dev, "console", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
    if (unlinkat(dev, "console", 0) < 0) {
      int e = errno;
      close(dev);
      errno = e;
      return tsshim_error_errno(err, "console", "unlinkat", "", "/dev/console");
    }
  }
  if (mknodat(dev, "console", S_IFREG | 0600, 0) < 0 && errno != EEXIST) {
    int e = errno;
    close(dev);
    errno = e;
    return tsshim_error_errno(err, "console", "mknodat", "", "/dev/console");
  }
  close(dev);

  /* Through the fd when the container has a procfs (any devpts location), else by name. */
  char src[64];
  if (faccessat(AT_FDCWD, "/proc/self/fd", F_OK, 0) == 0) {
    tsshim_mounts_fd_path(src, slave_fd);
  } else if (pts_path(slave_fd, src, sizeof src) < 0) {
    return tsshim_error_errno(err, "console", "fstat", "pty slave", "/dev/console");
  }
  if (mount(src, "/dev/console", NULL, MS_BIND, NULL) < 0) {
    return tsshim_error_errno(err, "console", "mount", "pty slave", "/dev/console");
  }
  return 0;
}
