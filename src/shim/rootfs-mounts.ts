// The rootfs containerd sends with Create (an overlay from the snapshotter, or
// bind mounts) is mounted by the shim onto bundle/rootfs, as containerd's own
// shims do; Delete unmounts it. A failed Create unmounts what it mounted.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Mount } from "../api/gen/containerd/types/mount_pb.js";
import { bindRemountFlags, MS, parseMountOptions } from "../oci/mount-options.js";
import { nativeHost } from "./native-host.js";

const MNT_DETACH = 2;

export function rootfsDir(bundle: string): string {
  return join(bundle, "rootfs");
}

/** Mounts each of containerd's mounts in order onto bundle/rootfs; on failure undoes them. */
export function mountRootfs(bundle: string, mounts: readonly Mount[]): void {
  if (mounts.length === 0) return;
  const target = rootfsDir(bundle);
  mkdirSync(target, { recursive: true, mode: 0o711 });
  const host = nativeHost();
  let done = 0;
  try {
    for (const m of mounts) {
      const opts = parseMountOptions(m.options);
      const flags = opts.flags | (opts.bind ? MS.BIND : 0);
      const source = m.source === "" ? m.type : m.source;
      host.hostMount(source, target, m.type, flags, opts.data);
      done++;
      if (opts.bind) {
        const remount = bindRemountFlags(flags);
        if (remount !== 0) host.hostMount("", target, "", remount, "");
      }
      if (opts.propagation !== 0) host.hostMount("", target, "", opts.propagation, "");
    }
  } catch (err) {
    for (; done > 0; done--) unmountQuietly(target);
    throw err;
  }
}

function unmountQuietly(target: string): boolean {
  try {
    nativeHost().hostUmount(target, MNT_DETACH);
    return true;
  } catch {
    return false;
  }
}

/** Unmounts everything stacked on bundle/rootfs (containerd removes the directory with the bundle). */
export function unmountRootfs(bundle: string): void {
  const target = rootfsDir(bundle);
  for (let i = 0; i < 64 && unmountQuietly(target); i++) {
    // keep peeling: the last failure means nothing is mounted there any more
  }
}
