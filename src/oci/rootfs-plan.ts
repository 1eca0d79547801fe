// Builds the rootfs plan: everything the container child does in its mount namespace
// (native/rootfs.h), computed in the parent so the child only makes syscalls. The object
// is JSON-like (numbers and strings only) and read field by field by native/napi_rootfs.c.

import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { bindRemountFlags, MountOptionError, MS, parseMountOptions } from "./mount-options.js";
import type { LinuxDevice, Mount, Spec } from "./spec.js";

export interface PlanMount {
  source: string;
  destination: string;
  fstype: string;
  data: string;
  flags: number;
  remount: number;
  propagation: number;
  attrSet: number;
  attrClr: number;
  /** 1: skip silently when the source does not exist (a cgroup v1 hierarchy the container has no directory in). */
  optional: number;
  /** 1: copy the image's files at the destination into the new tmpfs (tmpcopyup). */
  tmpcopyup: number;
  /** Host path bound (rbind) instead when a user namespace may not mount this filesystem
   * (EPERM): /sys for sysfs, the container's own cgroup2 directory for cgroup2; "" for none. */
  fallback: string;
}

export interface PlanDevice {
  path: string;
  hostPath: string;
  /** S_IFCHR, S_IFBLK or S_IFIFO. */
  type: number;
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

export interface PlanSymlink {
  path: string;
  target: string;
}

export interface PlanSysctl {
  path: string;
  value: string;
}

export interface RootfsPlan {
  rootfs: string;
  /** MS_* propagation applied to "/" before anything else; MS_SLAVE|MS_REC unless rootfsPropagation says otherwise. */
  rootPropagation: number;
  readonlyRoot: number;
  noPivot: number;
  userns: number;
  mounts: PlanMount[];
  devices: PlanDevice[];
  symlinks: PlanSymlink[];
  lateReadonly: string[];
  sysctls: PlanSysctl[];
  maskedPaths: string[];
  readonlyPaths: string[];
}

/** One cgroup v1 hierarchy as mounted on the host: /sys/fs/cgroup/<dir>, mounted with <options>. */
export interface CgroupV1Hierarchy {
  dir: string;
  options: string;
}

/** What the plan needs to know about the host (read once; injectable for unit tests). */
export interface RootfsHost {
  cgroupVersion: 1 | 2;
  cgroupRoot: string;
  cgroupV1: CgroupV1Hierarchy[];
  /** Where the host's cgroup2 hierarchy is mounted (cgroupRoot, or cgroupRoot/unified on a hybrid host). */
  cgroup2Root: string | null;
}

export interface RootfsPlanOptions {
  /** containerd's NoPivotRoot: MS_MOVE + chroot instead of pivot_root. */
  noPivot?: boolean;
  host?: RootfsHost;
}

export class RootfsPlanError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = "RootfsPlanError";
  }
}

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

// The devices every container gets (runtime-spec "Default Devices").
const DEFAULT_DEVICES: ReadonlyArray<readonly [string, number, number]> = [
  ["/dev/null", 1, 3],
  ["/dev/zero", 1, 5],
  ["/dev/full", 1, 7],
  ["/dev/random", 1, 8],
  ["/dev/urandom", 1, 9],
  ["/dev/tty", 5, 0],
];

const DEFAULT_ROOT_PROPAGATION = MS.SLAVE | MS.REC;

const ROOTFS_PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE | MS.REC,
  shared: MS.SHARED | MS.REC,
  slave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE | MS.REC,
};

let cachedHost: RootfsHost | undefined;

/** Reads the host's cgroup layout from /proc/self/mountinfo (cached: it does not change under us). */
export function readRootfsHost(): RootfsHost {
  if (cachedHost === undefined) cachedHost = parseRootfsHost(readFileSync("/proc/self/mountinfo", "utf8"));
  return cachedHost;
}

/** Pure part of readRootfsHost: the cgroup layout under /sys/fs/cgroup from a mountinfo text. */
export function parseRootfsHost(mountinfo: string, cgroupRoot = "/sys/fs/cgroup"): RootfsHost {
  const v1: CgroupV1Hierarchy[] = [];
  let version: 1 | 2 = 1;
  let cgroup2Root: string | null = null;
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    const mountPoint = pre[4];
    const fstype = post[0];
    if (mountPoint === undefined || fstype === undefined) continue;
    if (fstype === "cgroup2" && mountPoint === cgroupRoot) version = 2;
    if (fstype === "cgroup2" && (mountPoint === cgroupRoot || posix.dirname(mountPoint) === cgroupRoot)) {
      cgroup2Root = mountPoint;
    }
    if (fstype !== "cgroup" || posix.dirname(mountPoint) !== cgroupRoot) continue;
    const options = (post[2] ?? "")
      .split(",")
      .filter((o) => o !== "rw" && o !== "ro")
      .join(",");
    v1.push({ dir: posix.basename(mountPoint), options });
  }
  return { cgroupVersion: version, cgroupRoot, cgroupV1: version === 2 ? [] : v1, cgroup2Root };
}

function containerPath(field: string, p: string): string {
  if (p === "") throw new RootfsPlanError(field, "is empty");
  if (p.includes("\0")) throw new RootfsPlanError(field, "contains a NUL byte");
  // runc accepts relative destinations as relative to "/"; normalising also drops "..".
  const n = posix.normalize(posix.join("/", p));
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

function hostPath(field: string, p: string, base: string): string {
  if (p === "") throw new RootfsPlanError(field, "is empty");
  if (p.includes("\0")) throw new RootfsPlanError(field, "contains a NUL byte");
  return posix.resolve(base, p);
}

function hasNamespace(spec: Spec, type: string): boolean {
  return (spec.linux?.namespaces ?? []).some((ns) => ns.type === type);
}

function cgroupPath(spec: Spec): string {
  const p = spec.linux?.cgroupsPath ?? "";
  return p === "" ? "/" : posix.normalize(posix.join("/", p));
}

// A host cgroup directory: hierarchy root + the container's cgroup path, no trailing slash.
function cgroupDir(...parts: string[]): string {
  const j = posix.join(...parts);
  return j.length > 1 && j.endsWith("/") ? j.slice(0, -1) : j;
}

function planMount(field: string, m: Mount, bundleDir: string): { mount: PlanMount; isBind: boolean } {
  let opts: ReturnType<typeof parseMountOptions>;
  try {
    opts = parseMountOptions(m.options ?? []);
  } catch (e) {
    if (e instanceof MountOptionError) throw new RootfsPlanError(`${field}.options`, e.message);
    throw e;
  }
  if ((m.uidMappings?.length ?? 0) > 0 || (m.gidMappings?.length ?? 0) > 0) {
    throw new RootfsPlanError(`${field}.uidMappings`, "id-mapped mounts are not supported by tsshim");
  }
  const destination = containerPath(`${field}.destination`, m.destination);
  const type = m.type ?? "";
  const isBind = opts.bind || type === "bind";
  if (isBind) {
    const source = hostPath(`${field}.source`, m.source ?? "", bundleDir);
    // mount(2) with MS_BIND takes only MS_REC; every per-mount flag comes with the remount.
    const flags = MS.BIND | (opts.flags & MS.REC);
    return {
      isBind,
      mount: {
        source,
        destination,
        fstype: "",
        data: "",
        flags,
        remount: bindRemountFlags(opts.flags),
        propagation: opts.propagation,
        attrSet: opts.attrSet,
        attrClr: opts.attrClr,
        optional: 0,
        tmpcopyup: 0,
        fallback: "",
      },
    };
  }
  if (opts.copyUp && type !== "tmpfs")
    throw new RootfsPlanError(`${field}.options`, "tmpcopyup needs a tmpfs mount");
  if (type === "" || type === "none")
    throw new RootfsPlanError(`${field}.type`, "is required for a mount that is not a bind mount");
  return {
    isBind,
    mount: {
      source: m.source ?? type,
      destination,
      fstype: type,
      data: opts.data,
      flags: opts.flags,
      remount: 0,
      propagation: opts.propagation,
      attrSet: opts.attrSet,
      attrClr: opts.attrClr,
      optional: 0,
      tmpcopyup: opts.copyUp ? 1 : 0,
      fallback: type === "sysfs" ? "/sys" : "",
    },
  };
}

// The container's own directory in the host's cgroup2 hierarchy, bound when cgroup2 cannot be
// mounted (a user namespace without its own cgroup namespace).
function cgroup2Fallback(spec: Spec, host: RootfsHost): string {
  return host.cgroup2Root === null ? "" : cgroupDir(host.cgroup2Root, cgroupPath(spec));
}

// A "cgroup" mount becomes runc's layout: on cgroup v2 one cgroup2 mount (in a new cgroup
// namespace it shows the container's cgroup as its root); on v1 a tmpfs with one directory per
// hierarchy, each a bind of the container's own cgroup directory. Binds rather than v1 cgroup
// mounts even in a cgroup namespace: they are scoped to the container whenever its namespace
// was made, and v1 cannot be mounted inside a user namespace at all.
function planCgroupMounts(
  base: PlanMount,
  spec: Spec,
  host: RootfsHost,
  out: { mounts: PlanMount[]; symlinks: PlanSymlink[]; lateReadonly: string[] },
): void {
  const ro = (base.flags & MS.RDONLY) !== 0;
  const perMount =
    base.flags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.RELATIME | MS.STRICTATIME);
  if (host.cgroupVersion === 2) {
    out.mounts.push({
      ...base,
      source: "cgroup2",
      fstype: "cgroup2",
      data: "",
      flags: perMount,
      fallback: cgroup2Fallback(spec, host),
    });
    return;
  }
  out.mounts.push({
    ...base,
    source: "tmpfs",
    fstype: "tmpfs",
    data: "mode=755",
    flags: perMount & ~MS.RDONLY,
  });
  const own = cgroupPath(spec);
  for (const h of host.cgroupV1) {
    out.mounts.push({
      ...base,
      source: cgroupDir(host.cgroupRoot, h.dir, own),
      destination: posix.join(base.destination, h.dir),
      fstype: "",
      data: "",
      flags: MS.BIND,
      remount: bindRemountFlags(perMount),
      propagation: 0,
      optional: 1,
    });
    // Co-mounted controllers ("cpu,cpuacct") are also reachable by each name.
    for (const name of h.dir.split(",")) {
      if (name !== h.dir) out.symlinks.push({ path: posix.join(base.destination, name), target: h.dir });
    }
  }
  if (ro) out.lateReadonly.push(base.destination);
}

function deviceType(field: string, t: string): number {
  switch (t) {
    case "c":
    case "u":
      return S_IFCHR;
    case "b":
      return S_IFBLK;
    case "p":
      return S_IFIFO;
    default:
      throw new RootfsPlanError(field, `unknown device type "${t}" (want c, u, b or p)`);
  }
}

function planDevices(devices: readonly LinuxDevice[]): PlanDevice[] {
  const byPath = new Map<string, PlanDevice>();
  for (const [path, major, minor] of DEFAULT_DEVICES) {
    byPath.set(path, { path, hostPath: path, type: S_IFCHR, major, minor, mode: 0o666, uid: 0, gid: 0 });
  }
  devices.forEach((d, i) => {
    const field = `linux.devices[${i}]`;
    const path = containerPath(`${field}.path`, d.path);
    if (path === "/") throw new RootfsPlanError(`${field}.path`, "must name a file");
    const type = deviceType(`${field}.type`, d.type);
    if (type !== S_IFIFO && (d.major === undefined || d.minor === undefined)) {
      throw new RootfsPlanError(field, "major and minor are required for a character or block device");
    }
    byPath.set(path, {
      path,
      hostPath: path,
      type,
      major: type === S_IFIFO ? 0 : (d.major ?? 0),
      minor: type === S_IFIFO ? 0 : (d.minor ?? 0),
      mode: (d.fileMode ?? 0o666) & 0o7777,
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
    });
  });
  return [...byPath.values()];
}

// Which namespace a sysctl belongs to; a namespaced sysctl needs its own namespace, any other
// would change the host and is refused (as runc does).
const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

function planSysctls(spec: Spec): PlanSysctl[] {
  const out: PlanSysctl[] = [];
  for (const [name, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    const field = `linux.sysctl["${name}"]`;
    const dotted = name.includes("/") ? name.replaceAll("/", ".") : name;
    const parts = name.includes("/") ? name.split("/") : name.split(".");
    if (parts.some((p) => p === "" || p === "." || p === "..") || name.includes("\0")) {
      throw new RootfsPlanError(field, "is not a valid sysctl name");
    }
    let needs: string | undefined;
    if (IPC_SYSCTLS.has(dotted) || dotted.startsWith("fs.mqueue.")) needs = "ipc";
    else if (dotted.startsWith("net.")) needs = "network";
    else if (dotted === "kernel.hostname" || dotted === "kernel.domainname") needs = "uts";
    if (needs === undefined) throw new RootfsPlanError(field, "is not namespaced; it would change the host");
    if (!hasNamespace(spec, needs)) {
      throw new RootfsPlanError(field, `needs the container to have its own ${needs} namespace`);
    }
    out.push({ path: `/proc/sys/${parts.join("/")}`, value });
  }
  return out;
}

/** The plan for spec's rootfs; throws RootfsPlanError naming the spec field on bad input. */
export function buildRootfsPlan(spec: Spec, bundleDir: string, options: RootfsPlanOptions = {}): RootfsPlan {
  const root = spec.root?.path;
  if (root === undefined || root === "") throw new RootfsPlanError("root.path", "is required");
  const rootfs = hostPath("root.path", root, bundleDir);
  const prop = spec.linux?.rootfsPropagation;
  let rootPropagation = DEFAULT_ROOT_PROPAGATION;
  if (prop !== undefined) {
    const p = ROOTFS_PROPAGATION[prop];
    if (p === undefined) throw new RootfsPlanError("linux.rootfsPropagation", `unknown value "${prop}"`);
    rootPropagation = p;
  }

  const acc = { mounts: [] as PlanMount[], symlinks: [] as PlanSymlink[], lateReadonly: [] as string[] };
  let devBound = false;
  let procAtProc = false;
  let host = options.host;
  (spec.mounts ?? []).forEach((m, i) => {
    const field = `mounts[${i}]`;
    const { mount, isBind } = planMount(field, m, bundleDir);
    if (mount.destination === "/") throw new RootfsPlanError(`${field}.destination`, 'must not be "/"');
    if (isBind && mount.destination === "/dev") devBound = true;
    if (!isBind && mount.fstype === "proc" && mount.destination === "/proc") procAtProc = true;
    if (!isBind && mount.fstype === "cgroup") {
      host ??= readRootfsHost();
      planCgroupMounts(mount, spec, host, acc);
      return;
    }
    if (!isBind && mount.fstype === "cgroup2") {
      host ??= readRootfsHost();
      mount.fallback = cgroup2Fallback(spec, host);
    }
    acc.mounts.push(mount);
  });

  // A /dev bound from the host is taken as it is (runc does the same); otherwise populate it.
  const devices = devBound ? [] : planDevices(spec.linux?.devices ?? []);
  const devLinks: PlanSymlink[] = devBound
    ? []
    : [
        { path: "/dev/fd", target: "/proc/self/fd" },
        { path: "/dev/stdin", target: "/proc/self/fd/0" },
        { path: "/dev/stdout", target: "/proc/self/fd/1" },
        { path: "/dev/stderr", target: "/proc/self/fd/2" },
        ...(procAtProc ? [{ path: "/dev/core", target: "/proc/kcore" }] : []),
        { path: "/dev/ptmx", target: "pts/ptmx" },
      ];

  return {
    rootfs,
    rootPropagation,
    readonlyRoot: spec.root?.readonly === true ? 1 : 0,
    noPivot: options.noPivot === true ? 1 : 0,
    userns: hasNamespace(spec, "user") ? 1 : 0,
    mounts: acc.mounts,
    devices,
    symlinks: [...devLinks, ...acc.symlinks],
    lateReadonly: acc.lateReadonly,
    sysctls: planSysctls(spec),
    maskedPaths: (spec.linux?.maskedPaths ?? []).map((p, i) => containerPath(`linux.maskedPaths[${i}]`, p)),
    readonlyPaths: (spec.linux?.readonlyPaths ?? []).map((p, i) =>
      containerPath(`linux.readonlyPaths[${i}]`, p),
    ),
  };
}
