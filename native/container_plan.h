/* The container plan: everything the child of clone needs, fully resolved.
 *
 * napi_container.c builds it in the parent from the JS plan object that
 * src/oci/container-plan.ts produced. Every pointer refers to memory allocated in
 * the parent before clone; the child reads its copy-on-write copy and never
 * allocates (DESIGN rule 1). The parent frees the plan as soon as clone returns.
 */
#ifndef TSSHIM_CONTAINER_PLAN_H
#define TSSHIM_CONTAINER_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct tsshim_rootfs_plan;

#define TSSHIM_MAX_JOINS 8
#define TSSHIM_MAX_CGROUP_TASKS 32
#define TSSHIM_SYNC_MAX_FDS TSSHIM_MAX_CGROUP_TASKS
#define TSSHIM_MAX_EXTRA_FDS 64

struct tsshim_ns_join {
  int nstype; /* CLONE_NEW* */
  int fd;     /* opened in the parent, O_RDONLY|O_CLOEXEC */
  const char *path;
};

struct tsshim_rlimit {
  int resource;
  uint64_t soft;
  uint64_t hard;
};

/* struct sched_attr as the kernel defines it (glibc has no wrapper). */
struct tsshim_sched_attr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

struct tsshim_caps {
  int set; /* 0: the process keeps the capabilities it has */
  int last_cap;
  uint64_t bounding, effective, permitted, inheritable, ambient;
};

/* The process half: used by both the init and an exec'd process. */
struct tsshim_process_plan {
  char *const *argv;
  char *const *envp;
  const char *search_path; /* the container's PATH, for argv[0] without a slash */
  const char *cwd;
  int terminal;
  unsigned short rows, cols;
  int stdio[3]; /* caller's fds; -1 means /dev/null */
  int dev_null_fd;
  const int *extra_fds; /* host fds that become 3, 4, ... in the container (preserved fds) */
  size_t n_extra_fds;
  uint32_t uid, gid;
  const uint32_t *groups;
  size_t n_groups;
  int umask; /* -1: unchanged */
  struct tsshim_caps caps;
  int no_new_privs;
  const struct tsshim_rlimit *rlimits;
  size_t n_rlimits;
  long personality; /* -1: unchanged */
  int ioprio;       /* -1: unchanged */
  int sched_set;
  struct tsshim_sched_attr sched;
  const unsigned char *seccomp; /* struct sock_filter[], NULL for none */
  size_t seccomp_len;           /* bytes */
  unsigned int seccomp_flags;
  const char *apparmor_unused;
};

struct tsshim_container_plan {
  uint64_t clone_flags; /* CLONE_NEW* for clone3 (never CLONE_NEWTIME) */
  int new_user;         /* wait for the parent to write uid/gid maps */
  int new_time;         /* unshare(CLONE_NEWTIME) + offsets before exec */
  int new_cgroup_late;  /* unshare(CLONE_NEWCGROUP) after "mapped", once placed in every hierarchy */
  const char *time_offsets;
  size_t time_offsets_len;
  struct tsshim_ns_join joins[TSSHIM_MAX_JOINS];
  size_t n_joins;
  int cgroup_fd; /* cgroup v2 dir for CLONE_INTO_CGROUP, -1 for none */
  /* cgroup v1 `tasks` files the child joins by writing "0" (moving only its one thread, the
   * kernel skips the global threadgroup lock, whose write side waits for an RCU grace period,
   * that a cgroup.procs write of a pid takes). The parent opens them, with its credentials,
   * and sends the fds with "mapped", in this order; the paths are for error messages. */
  const char *cgroup_tasks[TSSHIM_MAX_CGROUP_TASKS];
  size_t n_cgroup_tasks;
  const char *hostname;
  const char *domainname;
  const struct tsshim_rootfs_plan *rootfs; /* NULL: the temporary fallback below */
  const char *rootfs_path;                 /* absolute host path of bundle/rootfs */
  int rootfs_readonly;
  struct tsshim_process_plan proc;
};

/* Messages on the SOCK_SEQPACKET sync channel between parent and child. */
enum tsshim_sync_type {
  TSSHIM_SYNC_EOF = 0,     /* the child's end closed: execve succeeded (or it died) */
  TSSHIM_SYNC_MAPPED = 1,  /* parent → child: id maps written, cgroups joined (+ v1 tasks fds to join) */
  TSSHIM_SYNC_READY = 2,   /* child → parent: set up, blocked before execve (+ PTY master) */
  TSSHIM_SYNC_ERROR = 3,   /* child → parent: err is filled; the child exits */
  TSSHIM_SYNC_START = 4,   /* parent → child: execve now */
  TSSHIM_SYNC_PID = 5,     /* intermediate → parent: pid (+ pidfd) of the final process */
};

struct tsshim_sync_msg {
  uint32_t type;
  int32_t pid;
  struct tsshim_error err;
};

#endif
