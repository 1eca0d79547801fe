// The OCI spec a container created through containerd's API gets: the
// harness's default busybox spec made to look like what containerd 1.6's own
// client generates for `ctr run` (its default capability set in bounding,
// effective and permitted, none ambient or inheritable; a writable root), and
// the cgroup path that client uses (/<namespace>/<id>), so the leak checker
// sees it.
import type { Spec } from "../src/oci/spec.js";
import { CONTAINERD_DEFAULT_CAPS } from "../src/shim/warm-up-spec.js";
import { defaultSpec } from "../test/helpers/bundle.js";

export { CONTAINERD_DEFAULT_CAPS };

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
