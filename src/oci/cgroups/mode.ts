// Which cgroup layout the host has, read from /proc/self/mountinfo (never guessed from paths):
//   v1      only v1 hierarchies (one per controller or co-mounted set, plus named ones)
//   hybrid  v1 hierarchies for the controllers + a cgroup2 mount for placement (this VM: /sys/fs/cgroup/unified)
//   v2      one cgroup2 mount holding every controller (unified at /sys/fs/cgroup)

import { readFileSync } from "node:fs";

export type CgroupMode = "v1" | "hybrid" | "v2";

export interface V1Hierarchy {
  /** Controllers bound to it, e.g. ["cpu", "cpuacct"]; named hierarchies as "name=systemd". */
  controllers: string[];
  mountpoint: string;
  /** The cgroup this mount shows as its root ("/" unless mounted from inside a cgroup namespace). */
  root: string;
}

export interface UnifiedMount {
  mountpoint: string;
  root: string;
}

export interface CgroupLayout {
  mode: CgroupMode;
  v1: V1Hierarchy[];
  unified?: UnifiedMount;
}

// Super options of a v1 cgroup mount that are not controllers.
const V1_OPTIONS_IGNORED = new Set([
  "rw",
  "ro",
  "relatime",
  "noatime",
  "nosuid",
  "nodev",
  "noexec",
  "xattr",
  "noprefix",
  "none",
  "clone_children",
  "cpuset_v2_mode",
  "favordynmods",
]);

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Parses mountinfo text into the cgroup layout. Exported for tests on captured text. */
export function parseLayout(mountinfo: string): CgroupLayout {
  const v1: V1Hierarchy[] = [];
  let unified: UnifiedMount | undefined;
  const seen = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    const root = unescapeOctal(pre[3] ?? "/");
    const mountpoint = unescapeOctal(pre[4] ?? "");
    const fstype = post[0];
    if (fstype === "cgroup2") {
      // The first cgroup2 mount wins; bind mounts of it elsewhere are the same hierarchy.
      unified ??= { mountpoint, root };
    } else if (fstype === "cgroup") {
      const controllers = (post[2] ?? "")
        .split(",")
        .filter((o) => o !== "" && !V1_OPTIONS_IGNORED.has(o) && !o.startsWith("release_agent="));
      const key = [...controllers].sort().join(",");
      if (controllers.length === 0 || seen.has(key)) continue;
      seen.add(key);
      v1.push({ controllers, mountpoint, root });
    }
  }
  const hasV1Controllers = v1.some((h) => h.controllers.some((c) => !c.startsWith("name=")));
  let mode: CgroupMode;
  if (hasV1Controllers) mode = unified ? "hybrid" : "v1";
  else if (unified) mode = "v2";
  else throw new Error("no cgroup hierarchy is mounted (checked /proc/self/mountinfo)");
  // In v2 mode a leftover named v1 hierarchy (e.g. name=systemd) carries no controllers: ignore it.
  const layout: CgroupLayout = { mode, v1: mode === "v2" ? [] : v1 };
  if (unified) layout.unified = unified;
  return layout;
}

let cached: CgroupLayout | undefined;

/** The host's layout, read once per process. */
export function detectLayout(): CgroupLayout {
  cached ??= parseLayout(readFileSync("/proc/self/mountinfo", "utf8"));
  return cached;
}

/** The calling process's own cgroup per hierarchy, from /proc/<pid>/cgroup: key "" is cgroup2. */
export function parseProcCgroup(text: string): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, , ctrls, path] = m as unknown as [string, string, string, string];
    if (ctrls === "") own.set("", path);
    else for (const c of ctrls.split(",")) own.set(c, path);
  }
  return own;
}

export function ownCgroups(pid: number | "self" = "self"): Map<string, string> {
  return parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, "utf8"));
}
