/* Helpers of the rootfs code that resolve and create paths inside a rootfs and mount onto
 * them. All async-signal-safe: raw syscalls on caller-prepared strings, fixed stack buffers. */
#ifndef TSSHIM_MOUNTS_H
#define TSSHIM_MOUNTS_H

#include "error.h"
#include "rootfs.h"

/* Longest "/proc/self/fd/<n>" string plus NUL. */
#define TSSHIM_FD_PATH_MAX 32

/* Writes "/proc/self/fd/<fd>" into buf (TSSHIM_FD_PATH_MAX bytes). */
void tsshim_mounts_fd_path(char *buf, int fd);

/* openat2(rootfd, path, O_PATH|extra|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS):
 * a symlink anywhere in path is resolved as if rootfd were "/". Returns fd or -1 (errno). */
int tsshim_mounts_open_in_root(int rootfd, const char *path, int extra_flags);

/* Opens path inside the rootfs (O_PATH), creating missing directories (0755) and, when
 * as_file is set, the last component as an empty file. Returns fd, or -1 with err filled
 * (step is the caller's step, detail its detail). */
int tsshim_mounts_mkpath(int rootfd, const char *path, int as_file, const char *step, const char *detail,
                         struct tsshim_error *err);

/* Opens the parent directory of path inside the rootfs (creating it) and copies the last
 * component into name (NAME_MAX+1 bytes). Returns the parent fd or -1 with err filled. */
int tsshim_mounts_mkparent(int rootfd, const char *path, char *name, const char *step, struct tsshim_error *err);

/* Mounts one plan entry into the rootfs: destination created and pinned by an fd, the mount
 * made onto that fd, then the bind remount, recursive attributes and propagation. */
int tsshim_mounts_apply(int rootfd, const struct tsshim_rootfs_mount *m, int userns, struct tsshim_error *err);

/* tmpcopyup (mounts_copyup.c): copies the tree of directory fd src into directory fd dst
 * (both opened O_RDONLY|O_DIRECTORY); where names the destination in errors. */
int tsshim_mounts_copyup(int src, int dst, const char *where, struct tsshim_error *err);

/* Like tsshim_mounts_open_in_root with the open flags given in full (O_CLOEXEC added). */
int tsshim_mounts_open_in_root_flags(int rootfd, const char *path, int flags);

/* mount_setattr(2) on fd's mount: set/clear attributes, recursively or not. */
int tsshim_mounts_setattr_fd(int fd, unsigned long long set, unsigned long long clr, int recursive);

#endif
