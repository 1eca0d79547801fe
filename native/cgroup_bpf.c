/* bpf(2) load/attach/detach of a cgroup device program (see cgroup_bpf.h). */
#include "cgroup_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

int tsshim_cgroup_bpf_attach(const char *cgroup_dir, const uint64_t *insns, size_t count, struct tsshim_error *err) {
  static char log[TSSHIM_ERR_DETAIL];
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  memset(log, 0, sizeof log);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t)(uintptr_t)insns;
  load.insn_cnt = (uint32_t)count;
  load.license = (uint64_t)(uintptr_t) "Apache";
  int prog = (int)sys_bpf(BPF_PROG_LOAD, &load);
  if (prog < 0 && errno == EACCES) {
    /* Load again with a log: the verifier says why it refused the program. */
    int saved = errno;
    load.log_buf = (uint64_t)(uintptr_t)log;
    load.log_size = sizeof log;
    load.log_level = 1;
    (void)sys_bpf(BPF_PROG_LOAD, &load);
    errno = saved;
  }
  if (prog < 0) return tsshim_error_errno(err, "device program", "bpf(BPF_PROG_LOAD)", log, cgroup_dir);
  int dir = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    tsshim_error_errno(err, "device program", "open", "", cgroup_dir);
    close(prog);
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
    close(dir);
    close(prog);
    return -1;
  }
  close(dir);
  return prog;
}

int tsshim_cgroup_bpf_detach(const char *cgroup_dir, int prog_fd, struct tsshim_error *err) {
  int dir = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return tsshim_error_errno(err, "device program", "open", "", cgroup_dir);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)dir;
  attr.attach_bpf_fd = (uint32_t)prog_fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  long r = sys_bpf(BPF_PROG_DETACH, &attr);
  int saved = errno;
  close(dir);
  if (r < 0) {
    errno = saved;
    return tsshim_error_errno(err, "device program", "bpf(BPF_PROG_DETACH)", "", cgroup_dir);
  }
  return 0;
}
