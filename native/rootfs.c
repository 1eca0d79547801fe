/* The container's filesystem: tsshim_rootfs_mount (mounts, /dev, pivot_root) and
 * tsshim_rootfs_finalize (sysctls, masked and readonly paths, readonly root). See rootfs.h
 * for the contract; everything here runs in the container child and is async-signal-safe. */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices.h"
#include "mounts.h"

static int fail_close(int fd, struct tsshim_error *err, const char *step, const char *syscall, const char *detail,
                      const char *path) {
  int e = errno;
  if (fd >= 0) close(fd);
  errno = e;
  return tsshim_error_errno(err, step, syscall, detail, path);
}

/* pivot_root refuses a new root whose parent mount is shared. With a shared root propagation
 * the rootfs's parent mount (the nearest ancestor that is a mount root) is made private in
 * this namespace only; the rest of "/" keeps the propagation that was asked for. */
static int make_parent_private(const char *rootfs, struct tsshim_error *err) {
  char buf[PATH_MAX];
  size_t len = 0;
  while (rootfs[len] != '\0') len++;
  if (len >= sizeof buf) return tsshim_error_set(err, ENAMETOOLONG, "rootfs", "statx", "", rootfs);
  for (size_t k = 0; k <= len; k++) buf[k] = rootfs[k];
  for (;;) {
    while (len > 1 && buf[len - 1] == '/') len--;
    while (len > 1 && buf[len - 1] != '/') len--;
    while (len > 1 && buf[len - 1] == '/') len--;
    buf[len] = '\0';
    struct statx stx;
    if (statx(AT_FDCWD, buf, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0) {
      return tsshim_error_errno(err, "rootfs", "statx", "", buf);
    }
    if (len == 1 || (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) break;
  }
  if (mount(NULL, buf, NULL, MS_PRIVATE, NULL) < 0) {
    return tsshim_error_errno(err, "rootfs propagation", "mount", "private", buf);
  }
  return 0;
}

static int enter_root(const struct tsshim_rootfs_plan *plan, int rootfd, struct tsshim_error *err) {
  if (fchdir(rootfd) < 0) return tsshim_error_errno(err, "pivot_root", "fchdir", "", plan->rootfs);
  if (plan->no_pivot) {
    /* For a rootfs that cannot be pivoted (initramfs): move it over "/" and chroot into it. */
    if (mount(plan->rootfs, "/", NULL, MS_MOVE, NULL) < 0) {
      return tsshim_error_errno(err, "move root", "mount", plan->rootfs, "/");
    }
    if (chroot(".") < 0) return tsshim_error_errno(err, "move root", "chroot", "", plan->rootfs);
  } else {
    /* pivot_root(".", ".") stacks the old root on top of the new one, so no directory is
     * needed for it; the old root is then made a slave (its unmount must not propagate to
     * the host) and detached. The slave pass goes through an fd of the old root: a
     * mount(2) on "." would resolve to the new root below it and undo the propagation
     * each container mount asked for. */
    int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (oldroot < 0) return tsshim_error_errno(err, "pivot_root", "open", "old root", "/");
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
      return fail_close(oldroot, err, "pivot_root", "pivot_root", "", plan->rootfs);
    }
    struct mount_attr slave = {.attr_set = 0, .attr_clr = 0, .propagation = MS_SLAVE, .userns_fd = 0};
    if (syscall(SYS_mount_setattr, oldroot, "", AT_EMPTY_PATH | AT_RECURSIVE, &slave, sizeof slave) < 0) {
      return fail_close(oldroot, err, "pivot_root", "mount_setattr", "old root", "/");
    }
    close(oldroot);
    if (umount2(".", MNT_DETACH) < 0) return tsshim_error_errno(err, "pivot_root", "umount2", "old root", "/");
  }
  if (chdir("/") < 0) return tsshim_error_errno(err, "pivot_root", "chdir", "", "/");
  return 0;
}

int tsshim_rootfs_mount(const struct tsshim_rootfs_plan *plan, struct tsshim_error *err) {
  unsigned long prop = plan->root_propagation != 0 ? plan->root_propagation : (MS_SLAVE | MS_REC);
  /* First, so that nothing we mount from here on propagates to the host. An unbindable tree
   * could not be bound onto itself: it is a slave until the container's "/" is made unbindable. */
  unsigned long first = (prop & MS_UNBINDABLE) ? (MS_SLAVE | MS_REC) : prop;
  if (mount(NULL, "/", NULL, first, NULL) < 0) return tsshim_error_errno(err, "rootfs propagation", "mount", "", "/");
  if ((prop & MS_SHARED) && make_parent_private(plan->rootfs, err) < 0) return -1;
  if (mount(plan->rootfs, plan->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
    return tsshim_error_errno(err, "rootfs", "mount", plan->rootfs, plan->rootfs);
  }
  /* Opened after the self-bind, so every mount lands on the new mount, not underneath it. */
  int rootfd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return tsshim_error_errno(err, "rootfs", "open", "", plan->rootfs);

  for (size_t i = 0; i < plan->n_mounts; i++) {
    if (tsshim_mounts_apply(rootfd, &plan->mounts[i], plan->userns, err) < 0) {
      close(rootfd);
      return -1;
    }
  }
  for (size_t i = 0; i < plan->n_devices; i++) {
    if (tsshim_devices_create(rootfd, &plan->devices[i], plan->userns, err) < 0) {
      close(rootfd);
      return -1;
    }
  }
  for (size_t i = 0; i < plan->n_symlinks; i++) {
    if (tsshim_devices_symlink(rootfd, &plan->symlinks[i], err) < 0) {
      close(rootfd);
      return -1;
    }
  }
  for (size_t i = 0; i < plan->n_late_readonly; i++) {
    int fd = tsshim_mounts_open_in_root(rootfd, plan->late_readonly[i], 0);
    if (fd < 0) return fail_close(rootfd, err, "readonly", "openat2", "", plan->late_readonly[i]);
    int r = tsshim_mounts_setattr_fd(fd, MOUNT_ATTR_RDONLY, 0, 0);
    int e = errno;
    close(fd);
    errno = e;
    if (r < 0) return fail_close(rootfd, err, "readonly", "mount_setattr", "", plan->late_readonly[i]);
  }
  int r = enter_root(plan, rootfd, err);
  close(rootfd);
  if (r < 0) return -1;
  /* A shared or unbindable root propagation applies to the container's own "/" too. Only
   * "/" itself: a recursive pass would override the propagation each mount asked for. */
  unsigned long last = prop & (MS_SHARED | MS_UNBINDABLE);
  if (last != 0 && mount(NULL, "/", NULL, last, NULL) < 0) {
    return tsshim_error_errno(err, "rootfs propagation", "mount", "", "/");
  }
  return 0;
}

/* Opens path (container view, we are inside the root) without magic links; -1 with errno. */
static int open_path(const char *path) {
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
}

static int write_sysctl(const struct tsshim_rootfs_sysctl *s, struct tsshim_error *err) {
  int fd = open(s->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return tsshim_error_errno(err, "sysctl", "open", "", s->path);
  size_t len = 0;
  while (s->value[len] != '\0') len++;
  ssize_t n = write(fd, s->value, len);
  if (n < 0 || (size_t)n != len) {
    if (n >= 0) errno = EIO;
    return fail_close(fd, err, "sysctl", "write", "", s->path);
  }
  close(fd);
  return 0;
}

/* Files get /dev/null bound over them, directories an empty read-only tmpfs. */
/* The mount target for an opened path: its /proc/self/fd link when the container has a
 * procfs at /proc (pins the inode we checked), else the path itself, which after
 * pivot_root can only resolve inside the container anyway. */
static void target_of(char *buf, size_t cap, int fd, const char *path, int have_proc) {
  if (have_proc) {
    tsshim_mounts_fd_path(buf, fd);
    return;
  }
  size_t i = 0;
  for (; i + 1 < cap && path[i] != '\0'; i++) buf[i] = path[i];
  buf[i] = '\0';
}

static int mask_path(const char *path, int have_proc, struct tsshim_error *err) {
  int fd = open_path(path);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return tsshim_error_errno(err, "mask", "openat2", "", path);
  }
  struct stat st;
  if (fstat(fd, &st) < 0) return fail_close(fd, err, "mask", "fstat", "", path);
  char target[PATH_MAX];
  target_of(target, sizeof target, fd, path, have_proc);
  int r;
  if (S_ISDIR(st.st_mode)) {
    r = mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555");
    if (r < 0) return fail_close(fd, err, "mask", "mount", "tmpfs", path);
  } else {
    r = mount("/dev/null", target, NULL, MS_BIND, NULL);
    if (r < 0) return fail_close(fd, err, "mask", "mount", "/dev/null", path);
  }
  close(fd);
  return 0;
}

static int readonly_path(const char *path, int have_proc, struct tsshim_error *err) {
  int fd = open_path(path);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return tsshim_error_errno(err, "readonly", "openat2", "", path);
  }
  char target[PATH_MAX];
  target_of(target, sizeof target, fd, path, have_proc);
  if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) return fail_close(fd, err, "readonly", "mount", path, path);
  close(fd);
  /* mount_setattr sets ro without having to repeat the flags a user namespace locks. */
  fd = open_path(path);
  if (fd < 0) return tsshim_error_errno(err, "readonly", "openat2", "", path);
  if (tsshim_mounts_setattr_fd(fd, MOUNT_ATTR_RDONLY, 0, 1) < 0) return fail_close(fd, err, "readonly", "mount_setattr", "", path);
  close(fd);
  return 0;
}

int tsshim_rootfs_finalize(const struct tsshim_rootfs_plan *plan, struct tsshim_error *err) {
  /* Sysctls first: readonlyPaths usually include /proc/sys. */
  for (size_t i = 0; i < plan->n_sysctls; i++) {
    if (write_sysctl(&plan->sysctls[i], err) < 0) return -1;
  }
  int have_proc = faccessat(AT_FDCWD, "/proc/self/fd", F_OK, 0) == 0;
  for (size_t i = 0; i < plan->n_masked_paths; i++) {
    if (mask_path(plan->masked_paths[i], have_proc, err) < 0) return -1;
  }
  for (size_t i = 0; i < plan->n_readonly_paths; i++) {
    if (readonly_path(plan->readonly_paths[i], have_proc, err) < 0) return -1;
  }
  if (plan->readonly_root) {
    int fd = open_path("/");
    if (fd < 0) return tsshim_error_errno(err, "readonly root", "openat2", "", "/");
    if (tsshim_mounts_setattr_fd(fd, MOUNT_ATTR_RDONLY, 0, 0) < 0) return fail_close(fd, err, "readonly root", "mount_setattr", "", "/");
    close(fd);
  }
  return 0;
}
