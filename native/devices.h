/* /dev population inside a rootfs: device nodes and symlinks. Async-signal-safe. */
#ifndef TSSHIM_DEVICES_H
#define TSSHIM_DEVICES_H

#include "error.h"
#include "rootfs.h"

/* Creates d inside the rootfs: mknod + chown + chmod, or, in a user namespace (where mknod
 * is not allowed), an empty file with the host's node bind-mounted over it. */
int tsshim_devices_create(int rootfd, const struct tsshim_rootfs_device *d, int userns, struct tsshim_error *err);

/* Creates the symlink s inside the rootfs, replacing a non-directory already there. */
int tsshim_devices_symlink(int rootfd, const struct tsshim_rootfs_symlink *s, struct tsshim_error *err);

#endif
