// Spec → the flat, fully resolved plan the native core clones from
// (native/container_plan.h). All parsing and validation happens here, before
// anything is created (DESIGN rule 7): names become numbers, capabilities become
// 64-bit masks, PATH is resolved to a search path, the seccomp profile to BPF bytes.

import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { buildRootfsPlan, type RootfsPlan } from "./rootfs-plan.js";
import { compileSeccomp } from "./seccomp/index.js";
import {
  CAPABILITIES,
  type LinuxCapabilities,
  type LinuxIDMapping,
  type LinuxNamespaceType,
  type LinuxSeccomp,
  NAMESPACES,
  type Process,
  RLIMITS,
  type Spec,
} from "./spec.js";

export interface NativeRlimit {
  type: number;
  soft: bigint;
  hard: bigint;
}

export interface NativeCaps {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

export interface NativeSched {
  policy: number;
  nice: number;
  priority: number;
  flags: number;
  runtime: bigint;
  deadline: bigint;
  period: bigint;
}

export interface NativeProcessPlan {
  args: string[];
  env: string[];
  searchPath: string;
  cwd: string;
  terminal: boolean;
  rows: number;
  cols: number;
  /** Host fds for 0, 1, 2; -1 means /dev/null. Ignored with a terminal. */
  stdio: [number, number, number];
  /** Host fds that become 3, 4, ... in the process (everything else above 2 is closed). */
  preserveFds: number[];
  uid: number;
  gid: number;
  groups: number[];
  /** -1: leave the umask alone. */
  umask: number;
  caps: NativeCaps | null;
  lastCap: number;
  noNewPrivs: boolean;
  rlimits: NativeRlimit[];
  /** -1: unchanged. */
  personality: number;
  /** -1: unchanged; else IOPRIO_PRIO_VALUE(class, level). */
  ioprio: number;
  sched: NativeSched | null;
  seccomp: Uint8Array | null;
  seccompFlags: number;
}

export interface NativeJoin {
  type: number;
  path: string;
}

export interface NativeContainerPlan {
  cloneFlags: number;
  newUser: boolean;
  newTime: boolean;
  /** unshare(CLONE_NEWCGROUP) in the child once the parent has placed it in every hierarchy. */
  newCgroupLate: boolean;
  timeOffsets: string | null;
  /** In the order to join: user first, mount last. */
  joins: NativeJoin[];
  /** cgroup v2 directory for CLONE_INTO_CGROUP, null for none. */
  cgroupDir: string | null;
  /**
   * cgroup v1 `tasks` files the child writes "0" to on "mapped", whose fds come with it (the
   * paths are for its error messages). Empty: the parent places the process with
   * CgroupPlacement.enter instead.
   */
  cgroupTasks: string[];
  hostname: string | null;
  domainname: string | null;
  rootfs: RootfsPlan | null;
  rootfsPath: string;
  rootfsReadonly: boolean;
  process: NativeProcessPlan;
}

/** What the TS side does between clone and "mapped". */
export interface ParentSteps {
  uidMap: string | null;
  gidMap: string | null;
  oomScoreAdj: number | undefined;
  warnings: string[];
}

export class ContainerPlanError extends Error {
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = "ContainerPlanError";
    this.field = field;
  }
}

export interface StdioFds {
  stdin?: number;
  stdout?: number;
  stderr?: number;
}

export interface ProcessPlanOptions {
  stdio?: StdioFds | undefined;
  /** Overrides process.terminal. */
  terminal?: boolean | undefined;
  /** Host fds that become the process's 3, 4, ... */
  preserveFds?: number[] | undefined;
  /** The container's seccomp profile applies to exec'd processes too. */
  seccomp?: LinuxSeccomp | undefined;
}

const DEFAULT_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const JOIN_ORDER: readonly LinuxNamespaceType[] = [
  "user",
  "ipc",
  "uts",
  "network",
  "pid",
  "cgroup",
  "time",
  "mount",
];
/** /proc/<pid>/ns/<name> of each namespace type; time_for_children because an init
 * that has not exec'd yet is not itself in its new time namespace. */
export const NS_PROC_NAME: Readonly<Record<LinuxNamespaceType, string>> = {
  user: "user",
  ipc: "ipc",
  uts: "uts",
  network: "net",
  pid: "pid",
  cgroup: "cgroup",
  time: "time_for_children",
  mount: "mnt",
};

const SCHED_POLICIES: Readonly<Record<string, number>> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};
const SCHED_FLAGS: Readonly<Record<string, number>> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IOPRIO_CLASSES: Readonly<Record<string, number>> = {
  IOPRIO_CLASS_RT: 1,
  IOPRIO_CLASS_BE: 2,
  IOPRIO_CLASS_IDLE: 3,
};
const PERSONALITIES: Readonly<Record<string, number>> = { LINUX: 0x0000, LINUX32: 0x0008 };
const U64_MAX = (1n << 64n) - 1n;

let lastCapCache: number | undefined;
/** CAP_LAST_CAP of the running kernel. */
export function kernelLastCap(): number {
  if (lastCapCache === undefined) {
    try {
      lastCapCache = Number.parseInt(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim(), 10);
    } catch {
      lastCapCache = 40;
    }
  }
  return lastCapCache;
}

/** JSON numbers above 2^53 arrive rounded: anything ≥ 2^64-1 is RLIM_INFINITY. */
function u64(v: number): bigint {
  if (!Number.isFinite(v) || v < 0) return 0n;
  const b = BigInt(Math.trunc(v));
  return b > U64_MAX ? U64_MAX : b;
}

function capMask(field: string, names: string[] | undefined, lastCap: number, warnings: string[]): bigint {
  let mask = 0n;
  (names ?? []).forEach((name, i) => {
    const bit = CAPABILITIES[name];
    if (bit === undefined)
      throw new ContainerPlanError(`${field}[${i}]`, `unknown capability ${JSON.stringify(name)}`);
    if (bit > lastCap) warnings.push(`${field}[${i}]: ${name} is not known to this kernel; ignored`);
    else mask |= 1n << BigInt(bit);
  });
  return mask;
}

function capsPlan(field: string, caps: LinuxCapabilities | undefined, warnings: string[]): NativeCaps | null {
  if (caps === undefined) return null;
  const last = kernelLastCap();
  const permitted = capMask(`${field}.permitted`, caps.permitted, last, warnings);
  const inheritable = capMask(`${field}.inheritable`, caps.inheritable, last, warnings);
  let ambient = capMask(`${field}.ambient`, caps.ambient, last, warnings);
  // The kernel raises an ambient cap only if it is permitted and inheritable. runc warns
  // and goes on (runc spec's default since 1.1 lists ambient caps with no inheritable set),
  // so do the same rather than fail the container.
  const refused = ambient & ~(permitted & inheritable);
  if (refused !== 0n) {
    ambient &= permitted & inheritable;
    warnings.push(
      `${field}.ambient: ${capNames(refused).join(", ")} not both permitted and inheritable; not raised (as runc)`,
    );
  }
  return {
    bounding: capMask(`${field}.bounding`, caps.bounding, last, warnings),
    effective: capMask(`${field}.effective`, caps.effective, last, warnings),
    permitted,
    inheritable,
    ambient,
  };
}

function capNames(mask: bigint): string[] {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(CAPABILITIES)) {
    if (mask & (1n << BigInt(bit))) names.push(name);
  }
  return names;
}

function searchPathOf(env: string[]): string {
  let path: string | undefined;
  for (const e of env) if (e.startsWith("PATH=")) path = e.slice(5);
  return path ?? DEFAULT_SEARCH_PATH;
}

/** The process half of a plan: used for the init and for exec'd processes. */
export function buildProcessPlan(
  proc: Process,
  field: string,
  linux: Spec["linux"] | undefined,
  opts: ProcessPlanOptions,
  warnings: string[],
): NativeProcessPlan {
  const args = proc.args ?? [];
  if (args.length === 0 || args[0] === "")
    throw new ContainerPlanError(`${field}.args`, "must name a program");
  const env = proc.env ?? [];
  if (!isAbsolute(proc.cwd)) throw new ContainerPlanError(`${field}.cwd`, "must be an absolute path");
  const terminal = opts.terminal ?? proc.terminal ?? false;
  const rlimits: NativeRlimit[] = (proc.rlimits ?? []).map((r, i) => {
    const type = RLIMITS[r.type];
    if (type === undefined)
      throw new ContainerPlanError(`${field}.rlimits[${i}].type`, `unknown rlimit ${r.type}`);
    const soft = u64(r.soft);
    const hard = u64(r.hard);
    if (soft > hard) throw new ContainerPlanError(`${field}.rlimits[${i}]`, "soft limit exceeds hard limit");
    return { type, soft, hard };
  });
  let ioprio = -1;
  if (proc.ioPriority !== undefined) {
    const cls = IOPRIO_CLASSES[proc.ioPriority.class];
    if (cls === undefined) throw new ContainerPlanError(`${field}.ioPriority.class`, "unknown class");
    ioprio = (cls << 13) | (proc.ioPriority.priority & 0x1fff);
  }
  let sched: NativeSched | null = null;
  if (proc.scheduler !== undefined) {
    const s = proc.scheduler;
    const policy = SCHED_POLICIES[s.policy];
    if (policy === undefined) throw new ContainerPlanError(`${field}.scheduler.policy`, "unknown policy");
    let flags = 0;
    for (const f of s.flags ?? []) {
      const bit = SCHED_FLAGS[f];
      if (bit === undefined) throw new ContainerPlanError(`${field}.scheduler.flags`, `unknown flag ${f}`);
      flags |= bit;
    }
    sched = {
      policy,
      nice: s.nice ?? 0,
      priority: s.priority ?? 0,
      flags,
      runtime: u64(s.runtime ?? 0),
      deadline: u64(s.deadline ?? 0),
      period: u64(s.period ?? 0),
    };
  }
  let personality = -1;
  if (linux?.personality !== undefined) {
    const p = PERSONALITIES[linux.personality.domain];
    if (p === undefined) throw new ContainerPlanError("linux.personality.domain", "unknown domain");
    personality = p;
  }
  let seccomp: Uint8Array | null = null;
  let seccompFlags = 0;
  const profile = opts.seccomp ?? linux?.seccomp;
  if (profile !== undefined) {
    const compiled = compileSeccomp(profile);
    seccomp = compiled.filter;
    seccompFlags = compiled.flags;
    warnings.push(...compiled.warnings);
  }
  const stdio = opts.stdio ?? {};
  return {
    args,
    env,
    searchPath: searchPathOf(env),
    cwd: proc.cwd,
    terminal,
    rows: proc.consoleSize?.height ?? 0,
    cols: proc.consoleSize?.width ?? 0,
    stdio: [stdio.stdin ?? -1, stdio.stdout ?? -1, stdio.stderr ?? -1],
    preserveFds: [...(opts.preserveFds ?? [])],
    uid: proc.user.uid,
    gid: proc.user.gid,
    groups: proc.user.additionalGids ?? [],
    umask: proc.user.umask ?? -1,
    caps: capsPlan(`${field}.capabilities`, proc.capabilities, warnings),
    lastCap: kernelLastCap(),
    noNewPrivs: proc.noNewPrivileges ?? false,
    rlimits,
    personality,
    ioprio,
    sched,
    seccomp,
    seccompFlags,
  };
}

function idMapText(field: string, maps: LinuxIDMapping[] | undefined): string | null {
  if (maps === undefined || maps.length === 0) return null;
  return maps
    .map((m, i) => {
      if (m.size <= 0) throw new ContainerPlanError(`${field}[${i}].size`, "must be positive");
      return `${m.containerID} ${m.hostID} ${m.size}\n`;
    })
    .join("");
}

export interface ContainerPlanOptions extends ProcessPlanOptions {
  cgroupDir?: string | null | undefined;
  /** Use the rootfs engineer's plan (default true); false forces the minimal bind + pivot. */
  rootfsPlan?: boolean;
  /** containerd's NoPivotRoot: MS_MOVE + chroot instead of pivot_root. */
  noPivot?: boolean;
}

/** Spec + bundle → the init's native plan and the steps the parent takes before "mapped". */
export function buildContainerPlan(
  spec: Spec,
  bundle: string,
  opts: ContainerPlanOptions = {},
): { plan: NativeContainerPlan; parent: ParentSteps } {
  const warnings: string[] = [];
  if (spec.process === undefined)
    throw new ContainerPlanError("process", "is required to create a container");
  if (spec.root === undefined) throw new ContainerPlanError("root", "is required");
  const linux = spec.linux;
  let cloneFlags = 0;
  let newUser = false;
  let newTime = false;
  let newCgroup = false;
  const joinsByType = new Map<LinuxNamespaceType, string>();
  const seen = new Set<LinuxNamespaceType>();
  (linux?.namespaces ?? []).forEach((ns, i) => {
    const flag = NAMESPACES[ns.type];
    if (flag === undefined)
      throw new ContainerPlanError(`linux.namespaces[${i}].type`, `unknown type ${ns.type}`);
    if (seen.has(ns.type))
      throw new ContainerPlanError(`linux.namespaces[${i}].type`, `${ns.type} appears twice`);
    seen.add(ns.type);
    if (ns.path !== undefined && ns.path !== "") {
      if (!isAbsolute(ns.path))
        throw new ContainerPlanError(`linux.namespaces[${i}].path`, "must be absolute");
      joinsByType.set(ns.type, ns.path);
      return;
    }
    if (ns.type === "time") newTime = true;
    else if (ns.type === "cgroup") newCgroup = true;
    else cloneFlags |= flag;
    if (ns.type === "user") newUser = true;
  });
  if (joinsByType.has("user") && newUser)
    throw new ContainerPlanError("linux.namespaces", "user given twice");
  const joins: NativeJoin[] = JOIN_ORDER.filter((t) => joinsByType.has(t)).map((t) => ({
    type: NAMESPACES[t],
    path: joinsByType.get(t)!,
  }));

  let timeOffsets: string | null = null;
  if (linux?.timeOffsets !== undefined) {
    if (!newTime) throw new ContainerPlanError("linux.timeOffsets", "needs a new time namespace");
    timeOffsets = "";
    for (const [clock, off] of Object.entries(linux.timeOffsets)) {
      if (clock !== "monotonic" && clock !== "boottime") {
        throw new ContainerPlanError(
          `linux.timeOffsets.${clock}`,
          "only monotonic and boottime have offsets",
        );
      }
      timeOffsets += `${clock} ${Math.trunc(off.secs ?? 0)} ${Math.trunc(off.nanosecs ?? 0)}\n`;
    }
  }

  const uidMap = idMapText("linux.uidMappings", linux?.uidMappings);
  const gidMap = idMapText("linux.gidMappings", linux?.gidMappings);
  if (newUser && (uidMap === null || gidMap === null)) {
    throw new ContainerPlanError("linux.uidMappings", "a new user namespace needs uid and gid mappings");
  }
  if (!newUser && (uidMap !== null || gidMap !== null)) {
    throw new ContainerPlanError("linux.uidMappings", "mappings need a new user namespace");
  }
  if (spec.hostname !== undefined && !(cloneFlags & NAMESPACES.uts) && !joinsByType.has("uts")) {
    throw new ContainerPlanError("hostname", "needs a uts namespace");
  }

  const rootfsPath = resolve(bundle, spec.root.path);
  const hasMountNs = (cloneFlags & NAMESPACES.mount) !== 0;
  const rootfs =
    hasMountNs && opts.rootfsPlan !== false
      ? buildRootfsPlan(spec, bundle, opts.noPivot === true ? { noPivot: true } : {})
      : null;
  const process = buildProcessPlan(spec.process, "process", linux, opts, warnings);
  return {
    plan: {
      cloneFlags,
      newUser,
      newTime,
      newCgroupLate: newCgroup,
      timeOffsets,
      joins,
      cgroupDir: opts.cgroupDir ?? null,
      cgroupTasks: [],
      hostname: spec.hostname ?? null,
      domainname: spec.domainname ?? null,
      rootfs,
      rootfsPath,
      rootfsReadonly: spec.root.readonly ?? false,
      process,
    },
    parent: { uidMap, gidMap, oomScoreAdj: spec.process.oomScoreAdj, warnings },
  };
}

/** The plan of a process exec'd into a running container: join every namespace of its init. */
export function buildExecPlan(
  spec: Spec,
  initPid: number,
  proc: Process,
  opts: ProcessPlanOptions & { cgroupDir?: string | null | undefined } = {},
): { plan: NativeContainerPlan; warnings: string[] } {
  const warnings: string[] = [];
  const types = new Set((spec.linux?.namespaces ?? []).map((n) => n.type));
  const joins: NativeJoin[] = JOIN_ORDER.filter((t) => types.has(t)).map((t) => ({
    type: NAMESPACES[t],
    path: `/proc/${initPid}/ns/${NS_PROC_NAME[t]}`,
  }));
  const process = buildProcessPlan(proc, "process", spec.linux, opts, warnings);
  return {
    plan: {
      cloneFlags: 0,
      newUser: false,
      newTime: false,
      newCgroupLate: false,
      timeOffsets: null,
      joins,
      cgroupDir: opts.cgroupDir ?? null,
      cgroupTasks: [],
      hostname: null,
      domainname: null,
      rootfs: null,
      rootfsPath: `/proc/${initPid}/root`,
      rootfsReadonly: false,
      process,
    },
    warnings,
  };
}
