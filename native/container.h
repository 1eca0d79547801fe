/* The container core: spawning an init or an exec'd process from a plan. */
#ifndef TSSHIM_CONTAINER_H
#define TSSHIM_CONTAINER_H

#include "container_plan.h"
#include "error.h"

enum tsshim_spawn_kind { TSSHIM_SPAWN_INIT = 0, TSSHIM_SPAWN_EXEC = 1 };

struct tsshim_spawn_result {
  int pid;   /* host pid of the process that will execve the workload */
  int pidfd; /* O_CLOEXEC pidfd of it */
  int sock;  /* parent's end of the sync channel, O_CLOEXEC */
};

/* Clones the child (through an intermediate when namespaces must be joined first),
 * which blocks until TSSHIM_SYNC_MAPPED. Parent side; may allocate. */
int tsshim_container_spawn(const struct tsshim_container_plan *plan, enum tsshim_spawn_kind kind,
                           struct tsshim_spawn_result *out, struct tsshim_error *err);

/* Child side: never return. */
__attribute__((noreturn)) void tsshim_container_child_init(const struct tsshim_container_plan *plan, int sock);
__attribute__((noreturn)) void tsshim_exec_child(const struct tsshim_container_plan *plan, int sock);

/* The shared tail of init and exec: stdio, PTY, limits, identity, caps, fds, cwd,
 * ready, wait for start, seccomp, execve. finalize (may be NULL) runs after the PTY. */
typedef int (*tsshim_finalize_fn)(const struct tsshim_container_plan *plan, struct tsshim_error *err);
__attribute__((noreturn)) void tsshim_process_run(const struct tsshim_container_plan *plan, int sock,
                                                  tsshim_finalize_fn finalize);

/* Sends err to the parent and exits: the common failure path of every child. */
__attribute__((noreturn)) void tsshim_child_fail(int sock, const struct tsshim_error *err);

/* Sync channel (container_sync.c); async-signal-safe. fd_out may be NULL. */
int tsshim_sync_send(int sock, uint32_t type, int32_t pid, const struct tsshim_error *e, int fd);
int tsshim_sync_recv(int sock, struct tsshim_sync_msg *msg, int *fd_out);

/* Namespaces (namespaces.c). */
int tsshim_ns_join_all(const struct tsshim_container_plan *plan, struct tsshim_error *err);
int tsshim_ns_time_new(const struct tsshim_container_plan *plan, struct tsshim_error *err);
int tsshim_ns_cgroup_new(const struct tsshim_container_plan *plan, struct tsshim_error *err);
int tsshim_ns_uts_apply(const struct tsshim_container_plan *plan, struct tsshim_error *err);
int tsshim_ns_become_root(struct tsshim_error *err);

/* Identity (identity.c). */
int tsshim_identity_apply(const struct tsshim_process_plan *p, struct tsshim_error *err);

/* Capabilities (caps.c). */
int tsshim_caps_drop_bounding(const struct tsshim_caps *c, struct tsshim_error *err);
int tsshim_caps_apply(const struct tsshim_caps *c, struct tsshim_error *err);
int tsshim_caps_no_new_privs(struct tsshim_error *err);

/* rlimits, personality, ioprio, scheduler (limits.c). */
int tsshim_limits_apply(const struct tsshim_process_plan *p, struct tsshim_error *err);

/* PTY (pty.c): opens /dev/ptmx of the current root, makes the slave the
 * controlling terminal and fds 0-2; *master_out is the master (O_CLOEXEC). */
int tsshim_pty_setup(const struct tsshim_process_plan *p, int *master_out, struct tsshim_error *err);

#endif
