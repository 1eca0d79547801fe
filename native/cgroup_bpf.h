/* cgroup v2 device policy: a BPF_PROG_TYPE_CGROUP_DEVICE program (instructions generated
 * in TypeScript) loaded and attached to a cgroup with bpf(2). */
#ifndef TSSHIM_CGROUP_BPF_H
#define TSSHIM_CGROUP_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Loads insns (8-byte struct bpf_insn each) and attaches them to the cgroup directory
 * with BPF_F_ALLOW_MULTI. Returns the program's fd (close-on-exec; keep it to detach the
 * program later), or -1 with err filled (the verifier log goes into err->detail). */
int tsshim_cgroup_bpf_attach(const char *cgroup_dir, const uint64_t *insns, size_t count, struct tsshim_error *err);

/* Detaches the program prog_fd from the cgroup directory. */
int tsshim_cgroup_bpf_detach(const char *cgroup_dir, int prog_fd, struct tsshim_error *err);

#endif
