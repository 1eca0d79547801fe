/* cgroup directories and placement in plain syscalls; see cgroup_place.h. */
#include "cgroup_place.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int made_push(struct tsshim_cgroup_made *m, const char *dir, struct tsshim_error *err) {
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    char **p = realloc(m->dirs, cap * sizeof *p);
    if (p == NULL) return tsshim_error_set(err, ENOMEM, "cgroup create", "malloc", NULL, dir);
    m->dirs = p;
    m->cap = cap;
  }
  char *copy = strdup(dir);
  if (copy == NULL) return tsshim_error_set(err, ENOMEM, "cgroup create", "malloc", NULL, dir);
  m->dirs[m->n++] = copy;
  return 0;
}

void tsshim_cgroup_made_free(struct tsshim_cgroup_made *made) {
  for (size_t i = 0; i < made->n; i++) free(made->dirs[i]);
  free(made->dirs);
  made->dirs = NULL;
  made->n = made->cap = 0;
}

/* mkdir -p on a writable copy of the path: the common case (parent exists) is one
 * mkdir; a missing parent is made first, recursively. */
static int mkdir_p(char *path, struct tsshim_cgroup_made *made, struct tsshim_error *err) {
  if (mkdir(path, 0777) == 0) return made_push(made, path, err);
  if (errno == EEXIST) return 0;
  if (errno != ENOENT) return tsshim_error_errno(err, "cgroup create", "mkdir", NULL, path);
  char *slash = strrchr(path, '/');
  if (slash == NULL || slash == path) return tsshim_error_errno(err, "cgroup create", "mkdir", NULL, path);
  *slash = '\0';
  int rc = mkdir_p(path, made, err);
  *slash = '/';
  if (rc < 0) return rc;
  if (mkdir(path, 0777) == 0) return made_push(made, path, err);
  if (errno == EEXIST) return 0;
  return tsshim_error_errno(err, "cgroup create", "mkdir", NULL, path);
}

/* Reads a small cgroup file into buf with surrounding whitespace removed. */
static int read_trimmed(const char *path, char *buf, size_t cap, struct tsshim_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tsshim_error_errno(err, "cgroup cpuset", "open", NULL, path);
  ssize_t n;
  do n = read(fd, buf, cap - 1);
  while (n < 0 && errno == EINTR);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return tsshim_error_errno(err, "cgroup cpuset", "read", NULL, path);
  }
  size_t end = (size_t)n;
  while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == ' ' || buf[end - 1] == '\t')) end--;
  size_t start = 0;
  while (start < end && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n')) start++;
  memmove(buf, buf + start, end - start);
  buf[end - start] = '\0';
  return 0;
}

static int write_all(const char *path, const char *data, size_t len, const char *step, struct tsshim_error *err) {
  /* O_TRUNC as `echo v > file` does: cgroupfs ignores it, plain files (tests) stay exact. */
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return tsshim_error_errno(err, step, "open", NULL, path);
  ssize_t w;
  do w = write(fd, data, len);
  while (w < 0 && errno == EINTR);
  int saved = errno;
  close(fd);
  if (w < 0 || (size_t)w != len) {
    errno = w < 0 ? saved : EIO;
    return tsshim_error_errno(err, step, "write", data, path);
  }
  return 0;
}

/* A new v1 cpuset cgroup starts with empty cpus and mems, and no task can join it. Fill
 * dir's files from the nearest ancestor that has them, filling every empty level on the
 * way down. Checking the files rather than "which directories did this call make" matters
 * when shims race: another shim may have made the parent and not yet filled it. */
static int cpuset_file(char *buf, size_t cap, const char *dir, int dir_len, const char *file,
                       struct tsshim_error *err) {
  int n = snprintf(buf, cap, "%.*s/%s", dir_len, dir, file);
  if (n < 0 || (size_t)n >= cap) return tsshim_error_set(err, ENAMETOOLONG, "cgroup cpuset", "", NULL, dir);
  return 0;
}

static int cpuset_ensure(const char *dir, size_t depth, struct tsshim_error *err) {
  static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
  char path[4096], value[2][4096];
  int len = (int)strlen(dir);
  for (size_t i = 0; i < 2; i++) {
    if (cpuset_file(path, sizeof path, dir, len, files[i], err) < 0) return -1;
    if (read_trimmed(path, value[i], sizeof value[i], err) < 0) return -1;
  }
  if (value[0][0] != '\0' && value[1][0] != '\0') return 0;
  const char *slash = strrchr(dir, '/');
  /* A hierarchy's root always has cpus and mems: running out of path means dir is in none. */
  if (slash == NULL || slash == dir || depth > 64)
    return tsshim_error_set(err, EINVAL, "cgroup cpuset", "", "no ancestor with cpus and mems", dir);
  int parent_len = (int)(slash - dir);
  char parent[4096];
  memcpy(parent, dir, (size_t)parent_len);
  parent[parent_len] = '\0';
  if (cpuset_ensure(parent, depth + 1, err) < 0) return -1;
  for (size_t i = 0; i < 2; i++) {
    if (value[i][0] != '\0') continue;
    if (cpuset_file(path, sizeof path, parent, parent_len, files[i], err) < 0 ||
        read_trimmed(path, value[i], sizeof value[i], err) < 0 ||
        cpuset_file(path, sizeof path, dir, len, files[i], err) < 0 ||
        write_all(path, value[i], strlen(value[i]), "cgroup cpuset", err) < 0)
      return -1;
  }
  return 0;
}

static void undo(struct tsshim_cgroup_made *made) {
  for (size_t i = made->n; i-- > 0;) rmdir(made->dirs[i]); /* best effort: report the first error */
}

int tsshim_cgroup_mkdirs(const char *const *dirs, const int *cpuset, size_t n, struct tsshim_cgroup_made *made,
                         struct tsshim_error *err) {
  char path[4096];
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(dirs[i]);
    if (len == 0 || len >= sizeof path) {
      tsshim_error_set(err, ENAMETOOLONG, "cgroup create", "mkdir", NULL, dirs[i]);
      goto fail;
    }
    memcpy(path, dirs[i], len + 1);
    if (mkdir_p(path, made, err) < 0) goto fail;
    if (cpuset != NULL && cpuset[i] && cpuset_ensure(path, 0, err) < 0) goto fail;
  }
  return 0;
fail:
  undo(made);
  tsshim_cgroup_made_free(made);
  return -1;
}

int tsshim_cgroup_open_all(const char *const *files, size_t n, int *fds, struct tsshim_error *err) {
  for (size_t i = 0; i < n; i++) {
    fds[i] = open(files[i], O_WRONLY | O_CLOEXEC);
    if (fds[i] < 0) {
      tsshim_error_errno(err, "cgroup enter", "open", NULL, files[i]);
      while (i-- > 0) close(fds[i]);
      return -1;
    }
  }
  return 0;
}

int tsshim_cgroup_enter(const char *const *procs_files, size_t n, int pid, struct tsshim_error *err) {
  char text[16];
  int len = snprintf(text, sizeof text, "%d", pid);
  for (size_t i = 0; i < n; i++)
    if (write_all(procs_files[i], text, (size_t)len, "cgroup enter", err) < 0) return -1;
  return 0;
}

void tsshim_cgroup_rmdirs(const char *const *dirs, size_t n, int *errnos) {
  for (size_t i = 0; i < n; i++) errnos[i] = rmdir(dirs[i]) == 0 || errno == ENOENT ? 0 : errno;
}
