/* The container's filesystem: everything done inside its new mount namespace before
 * the workload runs (mounts, /dev, pivot_root, masked and readonly paths, sysctls).
 *
 * Contract with the container child (DESIGN.md rule 1):
 *  - The parent builds a tsshim_rootfs_plan before clone (tsshim_napi_rootfs_plan_from_js in
 *    napi_rootfs.h). Every string and array is prepared there; the child only reads them in
 *    its copy of the memory and makes raw syscalls. Nothing here allocates, locks or prints.
 *  - In the child, in the new mount namespace (uid/gid maps already written when there is a
 *    user namespace), call tsshim_rootfs_mount(). On return the process is chrooted/pivoted
 *    into the container and its cwd is the container's "/".
 *  - Then set up the PTY (it needs the container's /dev/pts) and, with a terminal, call
 *    tsshim_rootfs_console(slave) so /dev/console is the PTY; then tsshim_rootfs_finalize()
 *    (sysctls, masked paths, readonly paths, readonly root).
 *  - Both return 0, or -1 with err filled (step "mount", syscall "mount", detail = source,
 *    path = container destination, ...), which formats as  mount "proc" on "/proc": ENOENT.
 *  - Both open only O_CLOEXEC fds and close them before returning, on every path.
 */
#ifndef TSSHIM_ROOTFS_H
#define TSSHIM_ROOTFS_H

#include <stddef.h>

#include "error.h"

/* One entry of the spec's mounts[], already parsed into flags (src/oci/mount-options.ts). */
struct tsshim_rootfs_mount {
  const char *source;      /* host path for bind mounts (absolute), fs source name otherwise; never NULL ("" allowed) */
  const char *destination; /* container path, absolute; resolved inside the rootfs */
  const char *fstype;      /* "" for bind mounts */
  const char *data;        /* filesystem option string for mount(2), "" when none */
  unsigned long flags;     /* MS_* for the first mount(2) call (MS_BIND / MS_BIND|MS_REC for binds) */
  unsigned long remount;   /* 0, or MS_REMOUNT|MS_BIND|ro/nosuid/... applied to a bind mount afterwards */
  unsigned long propagation; /* 0, or one of MS_SHARED/MS_PRIVATE/MS_SLAVE/MS_UNBINDABLE (|MS_REC) */
  unsigned long long attr_set; /* MOUNT_ATTR_* set recursively with mount_setattr (rro, rnosuid, ...) */
  unsigned long long attr_clr; /* MOUNT_ATTR_* cleared recursively (rrw, rsuid, ...) */
  int optional;            /* skip the mount when its bind source does not exist */
  int tmpcopyup;           /* tmpfs only: copy what the image has at the destination into it */
  const char *fallback;    /* "" or a host path rbind-mounted instead when the mount fails with
                            * EPERM in a user namespace (sysfs → /sys, cgroup2 → own cgroup) */
};

/* A device node to create under /dev (or bind from the host under a user namespace). */
struct tsshim_rootfs_device {
  const char *path;      /* container path, e.g. "/dev/null" */
  const char *host_path; /* the host node bound over it when the container has a user namespace */
  unsigned int type;     /* S_IFCHR, S_IFBLK or S_IFIFO */
  unsigned int major;
  unsigned int minor;
  unsigned int mode;     /* permission bits (07777) */
  unsigned int uid;      /* owner, as seen from inside the container */
  unsigned int gid;
};

/* A symlink created after the mounts and devices: /dev/fd -> /proc/self/fd, /dev/ptmx -> pts/ptmx, ... */
struct tsshim_rootfs_symlink {
  const char *path;   /* container path of the link */
  const char *target; /* link contents, written as-is */
};

/* A sysctl: absolute path under the container's /proc/sys and the value written there. */
struct tsshim_rootfs_sysctl {
  const char *path;  /* "/proc/sys/net/ipv4/ip_forward" */
  const char *value; /* "1" */
};

struct tsshim_rootfs_plan {
  const char *rootfs;             /* absolute host path of the rootfs */
  unsigned long root_propagation; /* applied to "/" first; 0 means MS_SLAVE|MS_REC */
  int readonly_root;              /* remount the container's "/" read-only in finalize */
  int no_pivot;                   /* MS_MOVE + chroot instead of pivot_root */
  int userns;                     /* own user namespace: bind device nodes instead of mknod */

  const struct tsshim_rootfs_mount *mounts; /* in spec order */
  size_t n_mounts;
  const struct tsshim_rootfs_device *devices; /* defaults merged with linux.devices */
  size_t n_devices;
  const struct tsshim_rootfs_symlink *symlinks;
  size_t n_symlinks;
  const char *const *late_readonly; /* mount points made read-only after symlinks (a ro cgroup tmpfs) */
  size_t n_late_readonly;

  const struct tsshim_rootfs_sysctl *sysctls;
  size_t n_sysctls;
  const char *const *masked_paths;
  size_t n_masked_paths;
  const char *const *readonly_paths;
  size_t n_readonly_paths;
};

/* In the child, new mount namespace, before pivot: see the contract above. */
int tsshim_rootfs_mount(const struct tsshim_rootfs_plan *plan, struct tsshim_error *err);

/* In the child, after pivot_root and the PTY: sysctls, masked, readonly paths, readonly root. */
int tsshim_rootfs_finalize(const struct tsshim_rootfs_plan *plan, struct tsshim_error *err);

/* In the child with a terminal, after pivot_root and before finalize (which may make "/"
 * read-only): bind the PTY slave (an open fd) over /dev/console (rootfs_console.c). */
int tsshim_rootfs_console(int slave_fd, struct tsshim_error *err);

#endif
