/* Mounting into a rootfs without leaving it.
 *
 * Why openat2 + mount(2) onto /proc/self/fd/N rather than the new mount API
 * (fsopen/fsconfig/fsmount/move_mount): every destination is first opened with
 * openat2(rootfd, dest, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), so a symlink in the image
 * (/etc/evil -> /etc) is resolved as if the rootfs were "/" and can never name a host path;
 * the mount then goes onto exactly that opened inode through its /proc/self/fd magic link
 * (we create that path ourselves, so it is not attacker-controlled). Plain mount(2) keeps one
 * code path for every filesystem and option string the spec can carry (legacy cgroup v1
 * options, tmpfs size/mode, devpts ptmxmode) with the kernel's own parsing, where fsconfig
 * would need us to split and type each option. mount_setattr(2) is used where mount(2) has no
 * equivalent: recursive attributes (rro, rnosuid, ...) and read-only without touching locked
 * flags. The host's /proc is still mounted at /proc at this point (we have not pivoted).
 */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static size_t str_len(const char *s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  return n;
}

void tsshim_mounts_fd_path(char *buf, int fd) {
  static const char prefix[] = "/proc/self/fd/";
  size_t i = 0;
  for (; prefix[i] != '\0'; i++) buf[i] = prefix[i];
  char digits[12];
  int n = 0;
  unsigned int v = (unsigned int)fd;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < (int)sizeof digits);
  while (n > 0) buf[i++] = digits[--n];
  buf[i] = '\0';
}

int tsshim_mounts_open_in_root(int rootfd, const char *path, int extra_flags) {
  struct open_how how = {
      .flags = (unsigned long long)(O_PATH | O_CLOEXEC | extra_flags),
      .mode = 0,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

int tsshim_mounts_open_in_root_flags(int rootfd, const char *path, int flags) {
  struct open_how how = {
      .flags = (unsigned long long)(flags | O_CLOEXEC),
      .mode = 0,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

int tsshim_mounts_mkpath(int rootfd, const char *path, int as_file, const char *step, const char *detail,
                         struct tsshim_error *err) {
  char buf[PATH_MAX];
  size_t len = str_len(path);
  if (len >= sizeof buf) {
    return tsshim_error_set(err, ENAMETOOLONG, step, "openat2", detail, path);
  }
  for (size_t k = 0; k <= len; k++) buf[k] = path[k];

  int parent = -1; /* fd of the deepest component opened so far; -1 means rootfd */
  size_t i = 0;
  for (;;) {
    while (buf[i] == '/') i++;
    if (buf[i] == '\0') break;
    size_t start = i;
    while (buf[i] != '\0' && buf[i] != '/') i++;
    char saved = buf[i];
    size_t j = i;
    while (buf[j] == '/') j++;
    int last = buf[j] == '\0';
    buf[i] = '\0';

    int fd = tsshim_mounts_open_in_root(rootfd, buf, last ? 0 : O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
      /* Create one name in an already-resolved directory: mkdirat/mknodat never follow a
       * symlink in their last component, so nothing is created outside the rootfs. */
      int dirfd = parent >= 0 ? parent : rootfd;
      int r;
      if (last && as_file) {
        r = mknodat(dirfd, buf + start, S_IFREG | 0644, 0);
      } else {
        r = mkdirat(dirfd, buf + start, 0755);
      }
      if (r < 0 && errno != EEXIST) {
        int e = errno;
        if (parent >= 0) close(parent);
        errno = e;
        return tsshim_error_errno(err, step, (last && as_file) ? "mknodat" : "mkdirat", detail, buf);
      }
      fd = tsshim_mounts_open_in_root(rootfd, buf, last ? 0 : O_DIRECTORY);
    }
    if (fd < 0) {
      int e = errno;
      if (parent >= 0) close(parent);
      errno = e;
      return tsshim_error_errno(err, step, "openat2", detail, buf);
    }
    if (parent >= 0) close(parent);
    parent = fd;
    buf[i] = saved;
  }
  if (parent >= 0) return parent;
  int fd = tsshim_mounts_open_in_root(rootfd, "/", O_DIRECTORY);
  if (fd < 0) return tsshim_error_errno(err, step, "openat2", detail, path);
  return fd;
}

int tsshim_mounts_mkparent(int rootfd, const char *path, char *name, const char *step, struct tsshim_error *err) {
  char dir[PATH_MAX];
  size_t len = str_len(path);
  while (len > 1 && path[len - 1] == '/') len--;
  if (len >= sizeof dir) return tsshim_error_set(err, ENAMETOOLONG, step, "openat2", "", path);
  size_t slash = 0;
  int found = 0;
  for (size_t k = 0; k < len; k++) {
    if (path[k] == '/') {
      slash = k;
      found = 1;
    }
  }
  size_t name_start = found ? slash + 1 : 0;
  size_t name_len = len - name_start;
  if (name_len == 0 || name_len > NAME_MAX) return tsshim_error_set(err, EINVAL, step, "openat2", "", path);
  for (size_t k = 0; k < name_len; k++) name[k] = path[name_start + k];
  name[name_len] = '\0';
  if (slash == 0) {
    dir[0] = '/';
    dir[1] = '\0';
  } else {
    for (size_t k = 0; k < slash; k++) dir[k] = path[k];
    dir[slash] = '\0';
  }
  return tsshim_mounts_mkpath(rootfd, dir, 0, step, "", err);
}

int tsshim_mounts_setattr_fd(int fd, unsigned long long set, unsigned long long clr, int recursive) {
  struct mount_attr attr = {.attr_set = set, .attr_clr = clr, .propagation = 0, .userns_fd = 0};
  return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
                      sizeof attr);
}

/* Per-mount flags currently on the mount at path, as MS_* bits. Under a user namespace the
 * kernel locks some of them (nodev, nosuid, ro from the parent namespace): a remount must
 * repeat them or it fails with EPERM. */
static unsigned long locked_flags(const char *path) {
  struct statfs st;
  if (statfs(path, &st) < 0) return 0;
  unsigned long f = (unsigned long)st.f_flags;
  unsigned long out = f & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME);
  if (f & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

int tsshim_mounts_apply(int rootfd, const struct tsshim_rootfs_mount *m, int userns, struct tsshim_error *err) {
  int as_file = 0;
  if (m->flags & MS_BIND) {
    struct stat st;
    if (stat(m->source, &st) < 0) {
      if (errno == ENOENT && m->optional) return 0;
      return tsshim_error_errno(err, "mount", "stat", m->source, m->destination);
    }
    as_file = !S_ISDIR(st.st_mode);
  }
  int fd = tsshim_mounts_mkpath(rootfd, m->destination, as_file, "mount", m->source, err);
  if (fd < 0) return -1;

  /* tmpcopyup: keep the image's directory open; the tmpfs will cover it. */
  int copy_src = -1;
  if (m->tmpcopyup) {
    copy_src = tsshim_mounts_open_in_root_flags(rootfd, m->destination, O_RDONLY | O_DIRECTORY);
    if (copy_src < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return tsshim_error_errno(err, "tmpcopyup", "openat2", m->source, m->destination);
    }
  }

  char target[TSSHIM_FD_PATH_MAX];
  tsshim_mounts_fd_path(target, fd);
  unsigned long remount = m->remount;
  const char *what = m->source; /* named in errors: the fallback once it is used */
  int r = mount(m->source, target, m->fstype[0] != '\0' ? m->fstype : NULL, m->flags,
                m->data[0] != '\0' ? m->data : NULL);
  if (r < 0 && errno == EPERM && userns && m->fallback[0] != '\0') {
    /* A user namespace may not mount sysfs without its own network namespace, nor cgroup2
     * without its own cgroup namespace: bind the host's tree instead (as runc does) and give
     * it the requested flags by remount. */
    what = m->fallback;
    r = mount(m->fallback, target, NULL, MS_BIND | MS_REC, NULL);
    unsigned long per = m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if (per != 0) remount = MS_REMOUNT | MS_BIND | per;
  }
  int e = errno;
  close(fd);
  if (r < 0) {
    if (copy_src >= 0) close(copy_src);
    errno = e;
    return tsshim_error_errno(err, "mount", "mount", what, m->destination);
  }
  if (copy_src >= 0) {
    int dst = tsshim_mounts_open_in_root_flags(rootfd, m->destination, O_RDONLY | O_DIRECTORY);
    if (dst < 0) {
      e = errno;
      close(copy_src);
      errno = e;
      return tsshim_error_errno(err, "tmpcopyup", "openat2", m->source, m->destination);
    }
    r = tsshim_mounts_copyup(copy_src, dst, m->destination, err);
    close(copy_src);
    close(dst);
    if (r < 0) return -1;
  }
  if (remount == 0 && m->attr_set == 0 && m->attr_clr == 0 && m->propagation == 0) return 0;

  /* Reopen: the destination now resolves to the root of the new mount. */
  fd = tsshim_mounts_open_in_root(rootfd, m->destination, 0);
  if (fd < 0) return tsshim_error_errno(err, "mount", "openat2", m->source, m->destination);
  tsshim_mounts_fd_path(target, fd);
  if (remount != 0) {
    r = mount(NULL, target, NULL, remount, NULL);
    if (r < 0 && errno == EPERM) r = mount(NULL, target, NULL, remount | locked_flags(target), NULL);
    if (r < 0) {
      e = errno;
      close(fd);
      errno = e;
      return tsshim_error_errno(err, "remount", "mount", m->source, m->destination);
    }
  }
  if (m->attr_set != 0 || m->attr_clr != 0) {
    if (tsshim_mounts_setattr_fd(fd, m->attr_set, m->attr_clr, 1) < 0) {
      e = errno;
      close(fd);
      errno = e;
      return tsshim_error_errno(err, "mount attributes", "mount_setattr", m->source, m->destination);
    }
  }
  if (m->propagation != 0) {
    if (mount(NULL, target, NULL, m->propagation, NULL) < 0) {
      e = errno;
      close(fd);
      errno = e;
      return tsshim_error_errno(err, "mount propagation", "mount", m->source, m->destination);
    }
  }
  close(fd);
  return 0;
}
