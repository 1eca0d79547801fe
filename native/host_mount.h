/* Mounts the shim makes on the host side: the rootfs mounts containerd sends
 * with Create (overlay from the snapshotter, bind) onto bundle/rootfs. */
#ifndef TSSHIM_HOST_MOUNT_H
#define TSSHIM_HOST_MOUNT_H

#include "error.h"

int tsshim_host_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
                      const char *data, struct tsshim_error *err);
int tsshim_host_umount(const char *target, int flags, struct tsshim_error *err);

#endif
