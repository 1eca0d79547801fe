/* bpf(2) load/attach/query/detach of cgroup device programs (see cgroup_bpf.h). */
#include "cgroup_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_PROGS 64

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

/* Ids of the device programs attached to dir_fd itself (not inherited), count in *n. */
static int query(int dir_fd, const char *path, uint32_t *ids, uint32_t *n, struct tsshim_error *err) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t)dir_fd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
  attr.query.prog_cnt = MAX_PROGS;
  if (sys_bpf(BPF_PROG_QUERY, &attr) < 0) return tsshim_error_errno(err, "device program", "bpf(BPF_PROG_QUERY)", "", path);
  *n = attr.query.prog_cnt < MAX_PROGS ? attr.query.prog_cnt : MAX_PROGS;
  return 0;
}

static int load(const uint64_t *insns, size_t count, const char *path, struct tsshim_error *err) {
  char log[TSSHIM_ERR_DETAIL];
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  memset(log, 0, sizeof log);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)count;
  attr.license = (uint64_t)(uintptr_t) "Apache";
  int prog = (int)sys_bpf(BPF_PROG_LOAD, &attr);
  if (prog >= 0) return prog;
  int saved = errno;
  if (saved == EACCES || saved == EINVAL) {
    /* Load again with a log: the verifier says why it refused the program. */
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = sizeof log;
    attr.log_level = 1;
    int again = (int)sys_bpf(BPF_PROG_LOAD, &attr);
    if (again >= 0) close(again);
    log[sizeof log - 1] = '\0';
  }
  errno = saved;
  return tsshim_error_errno(err, "device program", "bpf(BPF_PROG_LOAD)", log, path);
}

int tsshim_cgroup_bpf_replace(const char *cgroup_dir, const uint64_t *insns, size_t count, struct tsshim_error *err) {
  int dir = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return tsshim_error_errno(err, "device program", "open", "", cgroup_dir);
  uint32_t old[MAX_PROGS];
  uint32_t n = 0;
  if (query(dir, cgroup_dir, old, &n, err) < 0) {
    close(dir);
    return -1;
  }
  int prog = load(insns, count, cgroup_dir, err);
  if (prog < 0) {
    close(dir);
    return -1;
  }
  union bpf_attr attach;
  memset(&attach, 0, sizeof attach);
  attach.target_fd = (uint32_t)dir;
  attach.attach_bpf_fd = (uint32_t)prog;
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &attach) < 0) {
    tsshim_error_errno(err, "device program", "bpf(BPF_PROG_ATTACH)", "", cgroup_dir);
    close(prog);
    close(dir);
    return -1;
  }
  close(prog);
  int detached = 0;
  for (uint32_t i = 0; i < n; i++) {
    union bpf_attr get;
    memset(&get, 0, sizeof get);
    get.prog_id = old[i];
    int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &get);
    if (fd < 0) {
      if (errno == ENOENT) continue; /* released meanwhile */
      tsshim_error_errno(err, "device program", "bpf(BPF_PROG_GET_FD_BY_ID)", "", cgroup_dir);
      close(dir);
      return -1;
    }
    union bpf_attr detach;
    memset(&detach, 0, sizeof detach);
    detach.target_fd = (uint32_t)dir;
    detach.attach_bpf_fd = (uint32_t)fd;
    detach.attach_type = BPF_CGROUP_DEVICE;
    long r = sys_bpf(BPF_PROG_DETACH, &detach);
    int saved = errno;
    close(fd);
    if (r < 0) {
      errno = saved;
      tsshim_error_errno(err, "device program", "bpf(BPF_PROG_DETACH)", "", cgroup_dir);
      close(dir);
      return -1;
    }
    detached++;
  }
  close(dir);
  return detached;
}

int tsshim_cgroup_bpf_count(const char *cgroup_dir, struct tsshim_error *err) {
  int dir = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return tsshim_error_errno(err, "device program", "open", "", cgroup_dir);
  uint32_t ids[MAX_PROGS];
  uint32_t n = 0;
  int r = query(dir, cgroup_dir, ids, &n, err);
  close(dir);
  return r < 0 ? -1 : (int)n;
}
