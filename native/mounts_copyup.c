/* tmpcopyup: a new tmpfs starts with a copy of what the image had at its destination
 * (files, directories, symlinks, nodes; modes, owners and times kept). Runs in the child:
 * getdents64 into stack buffers, bounded recursion, no allocation. Every name is opened
 * with O_NOFOLLOW relative to an already-open directory, so the copy never leaves the tree. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mounts.h"

#define COPYUP_MAX_DEPTH 64

struct dirent64_raw {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int is_dot(const char *n) { return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')); }

static int copy_bytes(int in, int out, off_t size) {
  while (size > 0) {
    ssize_t n = sendfile(out, in, NULL, size > 0x7ffff000 ? 0x7ffff000 : (size_t)size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EINVAL || errno == ENOSYS)) break; /* fall back to read/write */
    if (n < 0) return -1;
    if (n == 0) return 0; /* the file shrank meanwhile */
    size -= n;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return -1;
      off += w;
    }
  }
}

static int copy_symlink(int src, int dst, const char *name) {
  char target[PATH_MAX];
  ssize_t n = readlinkat(src, name, target, sizeof target - 1);
  if (n < 0) return -1;
  target[n] = '\0';
  return symlinkat(target, dst, name);
}

static int copy_file(int src, int dst, const char *name, const struct stat *st) {
  int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return -1;
  int out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    close(in);
    errno = e;
    return -1;
  }
  int r = copy_bytes(in, out, st->st_size);
  int e = errno;
  close(in);
  close(out);
  errno = e;
  return r;
}

/* Owner, mode and times of dst/name from st (mode after chown: chown clears set-id bits). */
static int copy_attrs(int dst, const char *name, const struct stat *st) {
  /* EINVAL: an owner outside a user namespace's mapping; the copy stays the container root's. */
  if (fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL) return -1;
  if (!S_ISLNK(st->st_mode) && fchmodat(dst, name, st->st_mode & 07777, 0) < 0) return -1;
  struct timespec times[2] = {st->st_atim, st->st_mtim};
  return utimensat(dst, name, times, AT_SYMLINK_NOFOLLOW);
}

static int copy_tree(int src, int dst, int depth, const char *where, struct tsshim_error *err) {
  if (depth > COPYUP_MAX_DEPTH) return tsshim_error_set(err, ELOOP, "tmpcopyup", "openat", "too deep", where);
  char buf[2048] __attribute__((aligned(8)));
  for (;;) {
    long n = syscall(SYS_getdents64, src, buf, sizeof buf);
    if (n < 0) return tsshim_error_errno(err, "tmpcopyup", "getdents64", "", where);
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
      off += d->d_reclen;
      const char *name = d->d_name;
      if (is_dot(name)) continue;
      struct stat st;
      if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return tsshim_error_errno(err, "tmpcopyup", "fstatat", name, where);
      int r;
      const char *call;
      if (S_ISDIR(st.st_mode)) {
        call = "mkdirat";
        r = mkdirat(dst, name, 0700);
        if (r == 0) {
          int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (s < 0) return tsshim_error_errno(err, "tmpcopyup", "openat", name, where);
          int t = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (t < 0) {
            int e = errno;
            close(s);
            errno = e;
            return tsshim_error_errno(err, "tmpcopyup", "openat", name, where);
          }
          r = copy_tree(s, t, depth + 1, where, err);
          close(s);
          close(t);
          if (r < 0) return -1;
        }
      } else if (S_ISREG(st.st_mode)) {
        call = "copy";
        r = copy_file(src, dst, name, &st);
      } else if (S_ISLNK(st.st_mode)) {
        call = "symlinkat";
        r = copy_symlink(src, dst, name);
      } else {
        call = "mknodat";
        r = mknodat(dst, name, st.st_mode, st.st_rdev);
      }
      if (r < 0) return tsshim_error_errno(err, "tmpcopyup", call, name, where);
      if (copy_attrs(dst, name, &st) < 0) return tsshim_error_errno(err, "tmpcopyup", "fchownat", name, where);
    }
  }
}

int tsshim_mounts_copyup(int src, int dst, const char *where, struct tsshim_error *err) {
  struct stat st;
  if (fstat(src, &st) < 0) return tsshim_error_errno(err, "tmpcopyup", "fstat", "", where);
  if (copy_tree(src, dst, 0, where, err) < 0) return -1;
  /* The tmpfs root takes the owner and mode of the directory it covers. */
  if ((fchown(dst, st.st_uid, st.st_gid) < 0 && errno != EINVAL) || fchmod(dst, st.st_mode & 07777) < 0) {
    return tsshim_error_errno(err, "tmpcopyup", "fchown", "", where);
  }
  return 0;
}
