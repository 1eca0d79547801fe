// The OCI spec a container created through containerd's API gets: the
// harness's default busybox spec made to look like what containerd 1.6's own
// client generates for `ctr run` (its default capability set in bounding,
// effective and permitted, none ambient or inheritable; a writable root), and
// the cgroup path that client uses (/<namespace>/<id>), so the leak checker
// sees it.
import type { Spec } from "../src/oci/spec.js";
import { defaultSpec } from "../test/helpers/bundle.js";

/** containerd 1.6's default capabilities (oci.defaultUnixCaps / populateDefaultUnixSpec). */
export const CONTAINERD_DEFAULT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

export function apiSpec(namespace: string, id: string, args: string[]): Spec {
  const spec = defaultSpec(args, { cgroupsPath: `/${namespace}/${id}`, readonlyRoot: false });
  if (spec.process) {
    spec.process.capabilities = {
      bounding: [...CONTAINERD_DEFAULT_CAPS],
      effective: [...CONTAINERD_DEFAULT_CAPS],
      permitted: [...CONTAINERD_DEFAULT_CAPS],
    };
  }
  return spec;
}
