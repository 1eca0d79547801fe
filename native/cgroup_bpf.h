/* cgroup v2 device policy: a BPF_PROG_TYPE_CGROUP_DEVICE program (instructions generated
 * in TypeScript) loaded and attached to a cgroup with bpf(2). No fd is kept: the cgroup holds
 * the program, and a later policy finds the old one with BPF_PROG_QUERY. */
#ifndef TSSHIM_CGROUP_BPF_H
#define TSSHIM_CGROUP_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Loads insns (8-byte struct bpf_insn each), attaches the program to the cgroup directory
 * with BPF_F_ALLOW_MULTI, then detaches every device program that was attached before (so
 * there is no moment without a policy). Returns how many old programs were detached, or -1
 * with err filled (a verifier refusal puts the start of the verifier log in err->detail). */
int tsshim_cgroup_bpf_replace(const char *cgroup_dir, const uint64_t *insns, size_t count, struct tsshim_error *err);

/* How many device programs are attached to the cgroup directory itself, or -1. */
int tsshim_cgroup_bpf_count(const char *cgroup_dir, struct tsshim_error *err);

#endif
