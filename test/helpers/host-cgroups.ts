// crun 1.8 refuses to run on a hybrid cgroup layout (v1 controllers plus a
// cgroup2 mount at /sys/fs/cgroup/unified) when any controller is attached
// to the cgroup2 hierarchy ("cgroups in hybrid mode not supported, drop all
// controllers from cgroupv2"). This VM's init leaves `hugetlb` on cgroup2
// because it mounts no v1 hierarchy for it; a systemd hybrid host mounts one.
// We do the same: mount a v1 hierarchy for each controller still on cgroup2,
// which detaches it from cgroup2. Only done in hybrid mode, idempotent, and
// it changes nothing for runc (which handles both layouts).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { mounts } from "./proc.js";

const UNIFIED = "/sys/fs/cgroup/unified";

let done = false;

/** Returns what it changed or could not change (empty when nothing was needed). */
export function prepareHostCgroups(): string[] {
  if (done) return [];
  done = true;
  const all = mounts();
  const hybrid = all.some((m) => m.mountPoint === UNIFIED && m.fsType === "cgroup2");
  if (!hybrid) return [];
  let controllers: string[];
  try {
    controllers = readFileSync(join(UNIFIED, "cgroup.controllers"), "utf8").split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
  const changed: string[] = [];
  for (const c of controllers) {
    const target = join("/sys/fs/cgroup", c);
    if (all.some((m) => m.mountPoint === target)) continue;
    // Best effort: without it only crun fails (with its own clear message).
    try {
      if (!existsSync(target)) mkdirSync(target);
    } catch (e) {
      changed.push(`cannot create ${target}: ${String(e)}`);
      continue;
    }
    const r = spawnSync("mount", ["-t", "cgroup", "-o", c, "cgroup", target], { encoding: "utf8" });
    const mountedNow = mounts().some((m) => m.mountPoint === target);
    if (r.status === 0) changed.push(`mounted cgroup v1 ${c} at ${target}`);
    else if (!mountedNow) changed.push(`cannot mount cgroup v1 ${c} at ${target}: ${r.stderr.trim()}`);
    // else: another test process mounted it at the same moment.
  }
  return changed;
}
