// The `delete` verb: containerd runs it when a shim is gone (killed, crashed)
// to clean up what the shim left: the container's processes, its cgroup and
// its rootfs mounts. It prints a DeleteResponse (status 137, as containerd's
// own shims report a container they had to kill) on stdout.
import { existsSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { DeleteResponseSchema } from "../api/gen/containerd/task/v2/shim_pb.js";
import { CgroupManager } from "../oci/cgroups/index.js";
import { addressToPath, canConnect } from "./address.js";
import { processStartTime, readBundleState } from "./bundle-state.js";
import { unmountRootfs } from "./rootfs-mounts.js";

const SIGKILL = 9;

export async function deleteShim(
  id: string,
  bundle: string,
  warn: (msg: string) => void,
  /** The socket start would have made for `id`, for when the bundle's address file is gone. */
  fallbackSocket?: string,
): Promise<Uint8Array> {
  const state = readBundleState(bundle);
  let pid = 0;
  if (state !== undefined) {
    pid = state.pid;
    if (state.startTime !== "" && processStartTime(state.pid) === state.startTime) {
      try {
        process.kill(state.pid, SIGKILL);
      } catch (err) {
        warn(`kill ${state.pid}: ${String(err)}`);
      }
    }
  }
  // Create makes the cgroup before it can record tsshim.json: a shim killed
  // in between leaves a cgroup only config.json names (and maybe an init in it).
  const cgroupsPath = state !== undefined ? state.cgroupsPath : specCgroupsPath(bundle);
  if (cgroupsPath !== undefined) {
    try {
      const cgroup = new CgroupManager({ cgroupsPath, id: id || (state?.id ?? "") });
      const present = cgroup.dirs().filter((d) => existsSync(d));
      if (present.length > 0) {
        // Killed while Create made the directories, the cgroup exists in only
        // some hierarchies (state() says "absent"): kill what is in those.
        if (cgroup.state() !== "absent") await cgroup.kill(SIGKILL);
        else killMembers(present, warn);
        await cgroup.destroy();
      }
    } catch (err) {
      warn(`cgroup of ${id}: ${String(err)}`);
    }
  }
  unmountRootfs(bundle);
  await removeDeadSocket(bundle, warn, fallbackSocket);
  return toBinary(
    DeleteResponseSchema,
    create(DeleteResponseSchema, { pid, exitStatus: 128 + SIGKILL, exitedAt: timestampNow() }),
  );
}

function killMembers(dirs: readonly string[], warn: (msg: string) => void): void {
  for (const dir of dirs) {
    let pids: number[] = [];
    try {
      pids = readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
      continue; // gone meanwhile
    }
    for (const pid of pids) {
      try {
        process.kill(pid, SIGKILL);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") warn(`kill ${pid} in ${dir}: ${String(err)}`);
      }
    }
  }
}

/** linux.cgroupsPath of the bundle's config.json ("" when unset); undefined without a readable spec. */
function specCgroupsPath(bundle: string): string | undefined {
  try {
    const spec: unknown = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
    if (typeof spec !== "object" || spec === null) return undefined;
    const linux = (spec as { linux?: unknown }).linux;
    if (typeof linux !== "object" || linux === null) return "";
    const path = (linux as { cgroupsPath?: unknown }).cgroupsPath;
    return typeof path === "string" ? path : "";
  } catch {
    return undefined;
  }
}

/** The socket of a dead shim stays behind: remove it unless a live shim (of the group) still answers. */
async function removeDeadSocket(
  bundle: string,
  warn: (msg: string) => void,
  fallback: string | undefined,
): Promise<void> {
  let path: string;
  try {
    path = addressToPath(readFileSync(join(bundle, "address"), "utf8").trim());
  } catch {
    // containerd removes the bundle of a failed Create while it runs this
    // verb for the dead shim: the address file can be gone already.
    if (fallback === undefined) return;
    path = fallback;
  }
  if (await canConnect(path)) return;
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") warn(`remove socket ${path}: ${String(err)}`);
  }
}
