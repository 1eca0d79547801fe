/* Capability sets: bounding drop (before the uid change, needs CAP_SETPCAP),
 * then effective/permitted/inheritable with capset, then ambient; no_new_privs. */
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"

int tsshim_caps_drop_bounding(const struct tsshim_caps *c, struct tsshim_error *err) {
  if (!c->set) return 0;
  for (int cap = 0; cap <= c->last_cap && cap < 64; cap++) {
    if (c->bounding & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      return tsshim_error_errno(err, "capabilities", "prctl", "PR_CAPBSET_DROP", NULL);
  }
  return 0;
}

int tsshim_caps_apply(const struct tsshim_caps *c, struct tsshim_error *err) {
  if (!c->set) return 0;
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(c->effective >> (32 * i));
    data[i].permitted = (uint32_t)(c->permitted >> (32 * i));
    data[i].inheritable = (uint32_t)(c->inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) < 0) return tsshim_error_errno(err, "capabilities", "capset", NULL, NULL);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return tsshim_error_errno(err, "capabilities", "prctl", "PR_CAP_AMBIENT_CLEAR_ALL", NULL);
  for (int cap = 0; cap <= c->last_cap && cap < 64; cap++) {
    if (!(c->ambient & (1ULL << cap))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return tsshim_error_errno(err, "capabilities", "prctl", "PR_CAP_AMBIENT_RAISE", NULL);
  }
  return 0;
}

int tsshim_caps_no_new_privs(struct tsshim_error *err) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return tsshim_error_errno(err, "noNewPrivileges", "prctl", "PR_SET_NO_NEW_PRIVS", NULL);
  return 0;
}
