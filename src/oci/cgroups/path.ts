// Turns linux.cgroupsPath into a path inside each cgroup hierarchy.
//
//   "/default/abc"                      absolute: the same path under every hierarchy root
//   "default/abc"                       relative: under the shim's own cgroup in that hierarchy
//   "system.slice:cri-containerd:abc"   systemd form slice:prefix:name
//   ""                                  like runc's cgroupfs driver: "<container id>", relative
//
// No systemd runs on these hosts and we do not talk to it over D-Bus: the systemd form is
// expanded to the cgroupfs path systemd itself would give the unit (what runc's systemd driver
// ends up with), and the directories are made with plain mkdir like any other path:
//   "kubepods-besteffort-pod1.slice:cri-containerd:abc"
//     → /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope

import { posix } from "node:path";

export type CgroupPath =
  | { kind: "absolute"; path: string }
  | { kind: "relative"; path: string }
  | { kind: "systemd"; path: string; slice: string; unit: string };

export class CgroupPathError extends Error {
  constructor(cgroupsPath: string, reason: string) {
    super(`linux.cgroupsPath ${JSON.stringify(cgroupsPath)}: ${reason}`);
    this.name = "CgroupPathError";
  }
}

function checkComponents(original: string, path: string): void {
  for (const part of path.split("/")) {
    if (part === "..") throw new CgroupPathError(original, 'must not contain ".."');
  }
}

/** Expands a systemd slice name into its cgroupfs path: "a-b.slice" → "/a.slice/a-b.slice". */
export function expandSlice(original: string, slice: string): string {
  if (slice === "-.slice" || slice === "-") return "/";
  if (!slice.endsWith(".slice") || slice.includes("/")) {
    throw new CgroupPathError(original, `${JSON.stringify(slice)} is not a systemd slice name`);
  }
  const base = slice.slice(0, -".slice".length);
  const words = base.split("-");
  if (words.some((w) => w === "")) {
    throw new CgroupPathError(original, `${JSON.stringify(slice)} is not a systemd slice name`);
  }
  let path = "";
  let name = "";
  for (const w of words) {
    name = name === "" ? w : `${name}-${w}`;
    path += `/${name}.slice`;
  }
  return path;
}

function looksSystemd(p: string): boolean {
  return !p.startsWith("/") && p.split(":").length === 3;
}

export function parseCgroupsPath(cgroupsPath: string | undefined, containerId: string): CgroupPath {
  const p = cgroupsPath ?? "";
  if (p === "") {
    if (containerId === "" || containerId.includes("/") || containerId === "." || containerId === "..") {
      throw new CgroupPathError(p, `container id ${JSON.stringify(containerId)} cannot name a cgroup`);
    }
    return { kind: "relative", path: containerId };
  }
  if (looksSystemd(p)) {
    const [sliceIn, prefix, name] = p.split(":") as [string, string, string];
    if (name === "" || name.includes("/"))
      throw new CgroupPathError(p, "the unit name part is empty or has a '/'");
    if (prefix.includes("/")) throw new CgroupPathError(p, "the prefix part has a '/'");
    const slice = sliceIn === "" ? "system.slice" : sliceIn;
    const unit = name.endsWith(".slice") ? name : prefix === "" ? `${name}.scope` : `${prefix}-${name}.scope`;
    // A unit that is itself a slice nests by its own dashes, like any slice.
    const unitPath = name.endsWith(".slice") ? expandSlice(p, unit) : posix.join(expandSlice(p, slice), unit);
    return { kind: "systemd", path: unitPath, slice, unit };
  }
  checkComponents(p, p);
  if (p.startsWith("/")) {
    const path = posix.normalize(p).replace(/\/+$/, "");
    if (path === "") throw new CgroupPathError(p, "must not be the root cgroup");
    return { kind: "absolute", path };
  }
  return { kind: "relative", path: posix.normalize(p).replace(/\/+$/, "") };
}

/**
 * The directory for a parsed path in one hierarchy.
 * `mountRoot` is the cgroup the mount shows at its mountpoint; `own` is the shim's own cgroup
 * in that hierarchy (from /proc/self/cgroup), used for relative paths.
 */
export function hierarchyDir(mountpoint: string, mountRoot: string, own: string, path: CgroupPath): string {
  const inHierarchy = path.kind === "relative" ? posix.join(own, path.path) : path.path;
  // Paths are relative to the hierarchy's real root; the mount may only show a subtree of it.
  let visible = inHierarchy;
  if (mountRoot !== "/" && (inHierarchy === mountRoot || inHierarchy.startsWith(`${mountRoot}/`))) {
    visible = inHierarchy.slice(mountRoot.length) || "/";
  }
  return posix.join(mountpoint, visible);
}
