/* Device nodes and /dev symlinks; see devices.h. Every name is created with an *at call on a
 * parent directory opened inside the rootfs (mounts.h), never by a host path. */
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mounts.h"

static int fail_close(int fd, struct tsshim_error *err, const char *step, const char *syscall, const char *detail,
                      const char *path) {
  int e = errno;
  close(fd);
  errno = e;
  return tsshim_error_errno(err, step, syscall, detail, path);
}

int tsshim_devices_create(int rootfd, const struct tsshim_rootfs_device *d, int userns, struct tsshim_error *err) {
  char name[NAME_MAX + 1];
  int dirfd = tsshim_mounts_mkparent(rootfd, d->path, name, "device", err);
  if (dirfd < 0) return -1;

  if (userns) {
    if (mknodat(dirfd, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST) {
      return fail_close(dirfd, err, "device", "mknodat", d->host_path, d->path);
    }
    close(dirfd);
    int fd = tsshim_mounts_open_in_root(rootfd, d->path, 0);
    if (fd < 0) return tsshim_error_errno(err, "device", "openat2", d->host_path, d->path);
    char target[TSSHIM_FD_PATH_MAX];
    tsshim_mounts_fd_path(target, fd);
    if (mount(d->host_path, target, NULL, MS_BIND, NULL) < 0) {
      return fail_close(fd, err, "device", "mount", d->host_path, d->path);
    }
    close(fd);
    return 0;
  }

  mode_t mode = (mode_t)(d->type | (d->mode & 07777));
  dev_t dev = makedev(d->major, d->minor);
  if (mknodat(dirfd, name, mode, dev) < 0) {
    /* An image's own /dev may already hold the name: replace it with the node the spec asks for. */
    if (errno != EEXIST || unlinkat(dirfd, name, 0) < 0 || mknodat(dirfd, name, mode, dev) < 0) {
      return fail_close(dirfd, err, "device", "mknodat", "", d->path);
    }
  }
  if (fchownat(dirfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) {
    return fail_close(dirfd, err, "device", "fchownat", "", d->path);
  }
  /* mknod applied the umask; set the exact mode. The name was just created as a node. */
  if (fchmodat(dirfd, name, d->mode & 07777, 0) < 0) {
    return fail_close(dirfd, err, "device", "fchmodat", "", d->path);
  }
  close(dirfd);
  return 0;
}

int tsshim_devices_symlink(int rootfd, const struct tsshim_rootfs_symlink *s, struct tsshim_error *err) {
  char name[NAME_MAX + 1];
  int dirfd = tsshim_mounts_mkparent(rootfd, s->path, name, "symlink", err);
  if (dirfd < 0) return -1;
  /* Replace a file or an older link (a /dev/ptmx node from the image); a directory stays. */
  if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR && errno != EPERM) {
    return fail_close(dirfd, err, "symlink", "unlinkat", s->target, s->path);
  }
  if (symlinkat(s->target, dirfd, name) < 0 && errno != EEXIST) {
    return fail_close(dirfd, err, "symlink", "symlinkat", s->target, s->path);
  }
  close(dirfd);
  return 0;
}
