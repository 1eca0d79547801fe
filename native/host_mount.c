/* Host-side mounts of the shim; see host_mount.h. */
#include "host_mount.h"

#include <sys/mount.h>

int tsshim_host_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
                      const char *data, struct tsshim_error *err) {
  if (mount(source, target, fstype, flags, data) < 0) return tsshim_error_errno(err, "mount", "mount", source, target);
  return 0;
}

int tsshim_host_umount(const char *target, int flags, struct tsshim_error *err) {
  if (umount2(target, flags) < 0) return tsshim_error_errno(err, "umount", "umount2", NULL, target);
  return 0;
}
