// Parses and validates an OCI config.json before anything is created (DESIGN rule 7).
// Every failure is one SpecError whose message starts with the JSON path of the field.
// Unlike the runtime-spec's "ignore unknown properties", unknown properties are rejected
// (issue 3) except inside `annotations` and the other platforms' sections.

import {
  CAPABILITIES,
  DEVICE_TYPES,
  type LinuxResources,
  MOUNT_DATA_FLAGS,
  MOUNT_EXTENSIONS,
  MOUNT_FLAGS,
  MOUNT_PROPAGATION,
  MOUNT_RECURSIVE,
  NAMESPACES,
  PERSONALITY_DOMAINS,
  type Process,
  RLIMITS,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHITECTURES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  type Spec,
} from "./spec.js";

export { SUPPORTED } from "./spec.js";

export class SpecError extends Error {
  /** JSON path of the offending field, e.g. `linux.namespaces[2].type`; "" for the document. */
  readonly field: string;
  constructor(field: string, reason: string) {
    super(field === "" ? reason : `${field}: ${reason}`);
    this.name = "SpecError";
    this.field = field;
  }
}

type Obj = Record<string, unknown>;

const OTHER_PLATFORMS = ["solaris", "windows", "vm", "zos", "freebsd"];

function key(path: string, k: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) return `${path}[${JSON.stringify(k)}]`;
  return path === "" ? k : `${path}.${k}`;
}

function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

function fail(path: string, reason: string): never {
  throw new SpecError(path, reason);
}

/** An object with exactly the listed properties (plus none other); required ones must be present. */
function object(v: unknown, path: string, known: readonly string[], required: readonly string[] = []): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    fail(path, `must be an object, got ${describe(v)}`);
  const o = v as Obj;
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(key(path, k), "unknown property");
  for (const k of required) if (o[k] === undefined) fail(key(path, k), "is required");
  return o;
}

function map(v: unknown, path: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    fail(path, `must be an object, got ${describe(v)}`);
  return v as Obj;
}

function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, `must be an array, got ${describe(v)}`);
  return v;
}

/** Checks each element of an array with `check`, naming it `path[i]`. */
function each(v: unknown, path: string, check: (x: unknown, path: string) => unknown): unknown[] {
  const a = array(v, path);
  for (let i = 0; i < a.length; i++) check(a[i], index(path, i));
  return a;
}

function string(v: unknown, path: string): string {
  if (typeof v !== "string") fail(path, `must be a string, got ${describe(v)}`);
  return v;
}

function boolean(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") fail(path, `must be a boolean, got ${describe(v)}`);
  return v;
}

// JSON numbers above 2^53 are rounded by JSON.parse; 2^64 is what 18446744073709551615 becomes.
const RANGES = {
  uint16: [0, 0xffff],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 0xffffffff],
  int64: [-(2 ** 63), 2 ** 63],
  uint64: [0, 2 ** 64],
} as const;

function integer(v: unknown, path: string, kind: keyof typeof RANGES, min?: number, max?: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) fail(path, `must be an integer, got ${describe(v)}`);
  const lo = min ?? RANGES[kind][0];
  const hi = max ?? RANGES[kind][1];
  if (v < lo || v > hi) fail(path, `${v} is out of range [${lo}, ${hi}]`);
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[], what: string): T {
  const s = string(v, path);
  if (!(allowed as readonly string[]).includes(s)) fail(path, `unknown ${what} ${JSON.stringify(s)}`);
  return s as T;
}

function absolute(v: unknown, path: string): string {
  const s = string(v, path);
  if (!s.startsWith("/")) fail(path, `must be an absolute path, got ${JSON.stringify(s)}`);
  return s;
}

function strings(v: unknown, path: string): string[] {
  return array(v, path).map((s, i) => string(s, index(path, i)));
}

function stringMap(v: unknown, path: string): Record<string, string> {
  const o = map(v, path);
  for (const [k, s] of Object.entries(o)) string(s, key(path, k));
  return o as Record<string, string>;
}

function optional(o: Obj, k: string, path: string, check: (v: unknown, path: string) => unknown): void {
  if (o[k] !== undefined) check(o[k], key(path, k));
}

function envList(v: unknown, path: string): void {
  strings(v, path).forEach((e, i) => {
    const eq = e.indexOf("=");
    if (eq <= 0) fail(index(path, i), `must be KEY=VALUE, got ${JSON.stringify(e)}`);
    if (e.includes("\0")) fail(index(path, i), "contains a NUL byte");
  });
}

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

function cpuList(v: unknown, path: string): void {
  const s = string(v, path);
  if (s !== "" && !CPU_LIST.test(s)) fail(path, `must be a list like "0-3,5", got ${JSON.stringify(s)}`);
}

// ---------------------------------------------------------------------------------------------

function validateUser(v: unknown, path: string): void {
  const o = object(v, path, ["uid", "gid", "umask", "additionalGids", "username"], ["uid", "gid"]);
  integer(o["uid"], key(path, "uid"), "uint32");
  integer(o["gid"], key(path, "gid"), "uint32");
  optional(o, "umask", path, (u, p) => integer(u, p, "uint32", 0, 0o7777));
  optional(o, "additionalGids", path, (a, p) => each(a, p, (g, q) => integer(g, q, "uint32")));
  optional(o, "username", path, string);
}

function validateCapabilities(v: unknown, path: string): void {
  const o = object(v, path, ["bounding", "effective", "inheritable", "permitted", "ambient"]);
  for (const set of Object.keys(o)) {
    const p = key(path, set);
    strings(o[set], p).forEach((c, i) => {
      if (!(c in CAPABILITIES)) fail(index(p, i), `unknown capability ${JSON.stringify(c)}`);
    });
  }
}

function validateRlimits(v: unknown, path: string): void {
  const seen = new Set<string>();
  array(v, path).forEach((r, i) => {
    const p = index(path, i);
    const o = object(r, p, ["type", "hard", "soft"], ["type", "hard", "soft"]);
    const type = string(o["type"], key(p, "type"));
    if (!(type in RLIMITS)) fail(key(p, "type"), `unknown rlimit ${JSON.stringify(type)}`);
    if (seen.has(type)) fail(key(p, "type"), `duplicate rlimit ${JSON.stringify(type)}`);
    seen.add(type);
    const hard = integer(o["hard"], key(p, "hard"), "uint64");
    const soft = integer(o["soft"], key(p, "soft"), "uint64");
    if (soft > hard) fail(p, `soft limit ${soft} is above hard limit ${hard}`);
  });
}

const SCHED_POLICIES = [
  "SCHED_OTHER",
  "SCHED_FIFO",
  "SCHED_RR",
  "SCHED_BATCH",
  "SCHED_ISO",
  "SCHED_IDLE",
  "SCHED_DEADLINE",
];
const SCHED_FLAGS = [
  "SCHED_FLAG_RESET_ON_FORK",
  "SCHED_FLAG_RECLAIM",
  "SCHED_FLAG_DL_OVERRUN",
  "SCHED_FLAG_KEEP_POLICY",
  "SCHED_FLAG_KEEP_PARAMS",
  "SCHED_FLAG_UTIL_CLAMP_MIN",
  "SCHED_FLAG_UTIL_CLAMP_MAX",
];

function validateScheduler(v: unknown, path: string): void {
  const o = object(
    v,
    path,
    ["policy", "nice", "priority", "flags", "runtime", "deadline", "period"],
    ["policy"],
  );
  oneOf(o["policy"], key(path, "policy"), SCHED_POLICIES, "scheduler policy");
  optional(o, "nice", path, (n, p) => integer(n, p, "int32", -20, 19));
  optional(o, "priority", path, (n, p) => integer(n, p, "int32"));
  optional(o, "flags", path, (f, p) => each(f, p, (x, q) => oneOf(x, q, SCHED_FLAGS, "scheduler flag")));
  for (const k of ["runtime", "deadline", "period"]) optional(o, k, path, (n, p) => integer(n, p, "uint64"));
}

function validateProcess(v: unknown, path: string): void {
  const o = object(
    v,
    path,
    [
      "terminal",
      "consoleSize",
      "user",
      "args",
      "commandLine",
      "env",
      "cwd",
      "capabilities",
      "rlimits",
      "noNewPrivileges",
      "apparmorProfile",
      "oomScoreAdj",
      "selinuxLabel",
      "ioPriority",
      "scheduler",
      "execCPUAffinity",
    ],
    ["user", "cwd"],
  );
  optional(o, "terminal", path, boolean);
  optional(o, "consoleSize", path, (c, p) => {
    const b = object(c, p, ["height", "width"], ["height", "width"]);
    integer(b["height"], key(p, "height"), "uint32", 0, 0xffff);
    integer(b["width"], key(p, "width"), "uint32", 0, 0xffff);
  });
  validateUser(o["user"], key(path, "user"));
  if (o["args"] === undefined) fail(key(path, "args"), "is required");
  const args = strings(o["args"], key(path, "args"));
  if (args.length === 0) fail(key(path, "args"), "must not be empty");
  args.forEach((a, i) => {
    if (a.includes("\0")) fail(index(key(path, "args"), i), "contains a NUL byte");
  });
  optional(o, "commandLine", path, string);
  optional(o, "env", path, envList);
  absolute(o["cwd"], key(path, "cwd"));
  optional(o, "capabilities", path, validateCapabilities);
  optional(o, "rlimits", path, validateRlimits);
  optional(o, "noNewPrivileges", path, boolean);
  optional(o, "apparmorProfile", path, string);
  optional(o, "oomScoreAdj", path, (n, p) => integer(n, p, "int32", -1000, 1000));
  optional(o, "selinuxLabel", path, string);
  optional(o, "ioPriority", path, (x, p) => {
    const io = object(x, p, ["class", "priority"], ["class", "priority"]);
    oneOf(io["class"], key(p, "class"), ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"], "class");
    integer(io["priority"], key(p, "priority"), "int32", 0, 7);
  });
  optional(o, "scheduler", path, validateScheduler);
  optional(o, "execCPUAffinity", path, (x, p) => {
    const a = object(x, p, ["initial", "final"]);
    optional(a, "initial", p, cpuList);
    optional(a, "final", p, cpuList);
  });
}

function validateIDMappings(v: unknown, path: string): void {
  array(v, path).forEach((m, i) => {
    const p = index(path, i);
    const o = object(m, p, ["containerID", "hostID", "size"], ["containerID", "hostID", "size"]);
    integer(o["containerID"], key(p, "containerID"), "uint32");
    integer(o["hostID"], key(p, "hostID"), "uint32");
    integer(o["size"], key(p, "size"), "uint32", 1);
  });
}

export function checkMountOption(opt: string): string | undefined {
  if (
    opt in MOUNT_FLAGS ||
    (MOUNT_PROPAGATION as readonly string[]).includes(opt) ||
    MOUNT_RECURSIVE.includes(opt)
  )
    return undefined;
  if (MOUNT_EXTENSIONS.includes(opt) || MOUNT_DATA_FLAGS.includes(opt)) return undefined;
  // Filesystem data (mode=755, size=65536k, lowerdir=...) and mount(8)'s ignored x-* options.
  const eq = opt.indexOf("=");
  if (eq > 0) return undefined;
  if (opt.startsWith("x-") && opt.length > 2) return undefined;
  return `unknown mount option ${JSON.stringify(opt)}`;
}

function validateMounts(v: unknown, path: string): void {
  array(v, path).forEach((m, i) => {
    const p = index(path, i);
    const o = object(
      m,
      p,
      ["destination", "type", "source", "options", "uidMappings", "gidMappings"],
      ["destination"],
    );
    absolute(o["destination"], key(p, "destination"));
    optional(o, "type", p, string);
    optional(o, "source", p, string);
    optional(o, "options", p, (x, op) =>
      strings(x, op).forEach((opt, j) => {
        const bad = checkMountOption(opt);
        if (bad !== undefined) fail(index(op, j), bad);
      }),
    );
    optional(o, "uidMappings", p, validateIDMappings);
    optional(o, "gidMappings", p, validateIDMappings);
  });
}

const HOOK_KINDS = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
];

function validateHooks(v: unknown, path: string): void {
  const o = object(v, path, HOOK_KINDS);
  for (const kind of Object.keys(o)) {
    const kp = key(path, kind);
    array(o[kind], kp).forEach((h, i) => {
      const p = index(kp, i);
      const hook = object(h, p, ["path", "args", "env", "timeout"], ["path"]);
      absolute(hook["path"], key(p, "path"));
      optional(hook, "args", p, strings);
      optional(hook, "env", p, envList);
      optional(hook, "timeout", p, (t, tp) => integer(t, tp, "int32", 1));
    });
  }
}

function validateNamespaces(v: unknown, path: string): Map<string, string | undefined> {
  const seen = new Map<string, string | undefined>();
  array(v, path).forEach((n, i) => {
    const p = index(path, i);
    const o = object(n, p, ["type", "path"], ["type"]);
    const type = oneOf(o["type"], key(p, "type"), Object.keys(NAMESPACES), "namespace type");
    if (seen.has(type)) fail(key(p, "type"), `duplicate namespace type ${JSON.stringify(type)}`);
    let nsPath: string | undefined;
    if (o["path"] !== undefined) nsPath = absolute(o["path"], key(p, "path"));
    seen.set(type, nsPath === "" ? undefined : nsPath);
  });
  return seen;
}

function validateDevices(v: unknown, path: string): void {
  array(v, path).forEach((d, i) => {
    const p = index(path, i);
    const o = object(d, p, ["type", "path", "major", "minor", "fileMode", "uid", "gid"], ["type", "path"]);
    const type = oneOf(o["type"], key(p, "type"), DEVICE_TYPES, "device type");
    absolute(o["path"], key(p, "path"));
    if (type !== "p") {
      if (o["major"] === undefined) fail(key(p, "major"), `is required for device type "${type}"`);
      if (o["minor"] === undefined) fail(key(p, "minor"), `is required for device type "${type}"`);
    }
    optional(o, "major", p, (n, np) => integer(n, np, "int64", 0));
    optional(o, "minor", p, (n, np) => integer(n, np, "int64", 0));
    // Permission bits are what runtimes use; some writers include the S_IF* type bits too.
    optional(o, "fileMode", p, (n, np) => integer(n, np, "uint32"));
    optional(o, "uid", p, (n, np) => integer(n, np, "uint32"));
    optional(o, "gid", p, (n, np) => integer(n, np, "uint32"));
  });
}

function validateDeviceCgroup(v: unknown, path: string): void {
  array(v, path).forEach((d, i) => {
    const p = index(path, i);
    const o = object(d, p, ["allow", "type", "major", "minor", "access"], ["allow"]);
    boolean(o["allow"], key(p, "allow"));
    optional(o, "type", p, (t, tp) => oneOf(t, tp, ["a", "c", "b"], "device cgroup type"));
    optional(o, "major", p, (n, np) => integer(n, np, "int64", -1));
    optional(o, "minor", p, (n, np) => integer(n, np, "int64", -1));
    optional(o, "access", p, (a, ap) => {
      const s = string(a, ap);
      if (!/^[rwm]*$/.test(s)) fail(ap, `must be a combination of "r", "w", "m", got ${JSON.stringify(s)}`);
    });
  });
}

function validateBlockIO(v: unknown, path: string): void {
  const throttles = [
    "throttleReadBpsDevice",
    "throttleWriteBpsDevice",
    "throttleReadIOPSDevice",
    "throttleWriteIOPSDevice",
  ];
  const o = object(v, path, ["weight", "leafWeight", "weightDevice", ...throttles]);
  optional(o, "weight", path, (n, p) => integer(n, p, "uint16"));
  optional(o, "leafWeight", path, (n, p) => integer(n, p, "uint16"));
  optional(o, "weightDevice", path, (a, ap) =>
    array(a, ap).forEach((d, i) => {
      const p = index(ap, i);
      const w = object(d, p, ["major", "minor", "weight", "leafWeight"], ["major", "minor"]);
      integer(w["major"], key(p, "major"), "int64", 0);
      integer(w["minor"], key(p, "minor"), "int64", 0);
      optional(w, "weight", p, (n, np) => integer(n, np, "uint16"));
      optional(w, "leafWeight", p, (n, np) => integer(n, np, "uint16"));
    }),
  );
  for (const t of throttles) {
    optional(o, t, path, (a, ap) =>
      array(a, ap).forEach((d, i) => {
        const p = index(ap, i);
        const w = object(d, p, ["major", "minor", "rate"], ["major", "minor", "rate"]);
        integer(w["major"], key(p, "major"), "int64", 0);
        integer(w["minor"], key(p, "minor"), "int64", 0);
        integer(w["rate"], key(p, "rate"), "uint64");
      }),
    );
  }
}

export function validateResources(v: unknown, path: string): void {
  const o = object(v, path, [
    "devices",
    "memory",
    "cpu",
    "pids",
    "blockIO",
    "hugepageLimits",
    "network",
    "rdma",
    "unified",
  ]);
  optional(o, "devices", path, validateDeviceCgroup);
  optional(o, "memory", path, (m, p) => {
    const mem = object(m, p, [
      "limit",
      "reservation",
      "swap",
      "kernel",
      "kernelTCP",
      "swappiness",
      "disableOOMKiller",
      "useHierarchy",
      "checkBeforeUpdate",
    ]);
    for (const k of ["limit", "reservation", "swap", "kernel", "kernelTCP"]) {
      optional(mem, k, p, (n, np) => integer(n, np, "int64", -1));
    }
    optional(mem, "swappiness", p, (n, np) => integer(n, np, "uint64", 0, 100));
    for (const k of ["disableOOMKiller", "useHierarchy", "checkBeforeUpdate"]) optional(mem, k, p, boolean);
  });
  optional(o, "cpu", path, (c, p) => {
    const cpu = object(c, p, [
      "shares",
      "quota",
      "burst",
      "period",
      "realtimeRuntime",
      "realtimePeriod",
      "cpus",
      "mems",
      "idle",
    ]);
    for (const k of ["shares", "burst", "period", "realtimePeriod"]) {
      optional(cpu, k, p, (n, np) => integer(n, np, "uint64"));
    }
    for (const k of ["quota", "realtimeRuntime"]) optional(cpu, k, p, (n, np) => integer(n, np, "int64", -1));
    optional(cpu, "idle", p, (n, np) => integer(n, np, "int64", 0, 1));
    optional(cpu, "cpus", p, cpuList);
    optional(cpu, "mems", p, cpuList);
  });
  optional(o, "pids", path, (x, p) => {
    const pids = object(x, p, ["limit"], ["limit"]);
    integer(pids["limit"], key(p, "limit"), "int64", -1);
  });
  optional(o, "blockIO", path, validateBlockIO);
  optional(o, "hugepageLimits", path, (a, ap) =>
    array(a, ap).forEach((h, i) => {
      const p = index(ap, i);
      const hp = object(h, p, ["pageSize", "limit"], ["pageSize", "limit"]);
      const size = string(hp["pageSize"], key(p, "pageSize"));
      if (!/^[1-9][0-9]*[KMG]B$/.test(size)) {
        fail(key(p, "pageSize"), `must look like "2MB" or "1GB", got ${JSON.stringify(size)}`);
      }
      integer(hp["limit"], key(p, "limit"), "uint64");
    }),
  );
  optional(o, "network", path, (n, p) => {
    const net = object(n, p, ["classID", "priorities"]);
    optional(net, "classID", p, (x, xp) => integer(x, xp, "uint32"));
    optional(net, "priorities", p, (a, ap) =>
      array(a, ap).forEach((x, i) => {
        const ip = index(ap, i);
        const prio = object(x, ip, ["name", "priority"], ["name", "priority"]);
        string(prio["name"], key(ip, "name"));
        integer(prio["priority"], key(ip, "priority"), "uint32");
      }),
    );
  });
  optional(o, "rdma", path, (r, rp) => {
    for (const [dev, lim] of Object.entries(map(r, rp))) {
      const p = key(rp, dev);
      const l = object(lim, p, ["hcaHandles", "hcaObjects"]);
      optional(l, "hcaHandles", p, (x, xp) => integer(x, xp, "uint32"));
      optional(l, "hcaObjects", p, (x, xp) => integer(x, xp, "uint32"));
    }
  });
  optional(o, "unified", path, (u, up) => {
    for (const k of Object.keys(stringMap(u, up))) {
      // A cgroup v2 interface file of this cgroup: "<controller>.<name>", never a path.
      if (!/^[a-z0-9_]+\.[A-Za-z0-9_.-]+$/.test(k))
        fail(key(up, k), "is not a cgroup v2 interface file name");
    }
  });
}

function validateSeccomp(v: unknown, path: string): void {
  const o = object(
    v,
    path,
    [
      "defaultAction",
      "defaultErrnoRet",
      "architectures",
      "flags",
      "listenerPath",
      "listenerMetadata",
      "syscalls",
    ],
    ["defaultAction"],
  );
  const actions: string[] = [
    oneOf(o["defaultAction"], key(path, "defaultAction"), SECCOMP_ACTIONS, "action"),
  ];
  optional(o, "defaultErrnoRet", path, (n, p) => integer(n, p, "uint32"));
  optional(o, "architectures", path, (a, ap) =>
    each(a, ap, (x, q) => oneOf(x, q, SECCOMP_ARCHITECTURES, "architecture")),
  );
  optional(o, "flags", path, (a, ap) => each(a, ap, (x, q) => oneOf(x, q, SECCOMP_FLAGS, "seccomp flag")));
  optional(o, "listenerPath", path, absolute);
  optional(o, "listenerMetadata", path, string);
  optional(o, "syscalls", path, (a, ap) =>
    array(a, ap).forEach((s, i) => {
      const p = index(ap, i);
      const sc = object(s, p, ["names", "action", "errnoRet", "args"], ["names", "action"]);
      const names = strings(sc["names"], key(p, "names"));
      if (names.length === 0) fail(key(p, "names"), "must not be empty");
      names.forEach((n, j) => {
        if (!/^[a-z0-9_]+$/.test(n))
          fail(index(key(p, "names"), j), `invalid syscall name ${JSON.stringify(n)}`);
      });
      actions.push(oneOf(sc["action"], key(p, "action"), SECCOMP_ACTIONS, "action"));
      optional(sc, "errnoRet", p, (n, np) => integer(n, np, "uint32"));
      optional(sc, "args", p, (x, xp) =>
        array(x, xp).forEach((arg, j) => {
          const argp = index(xp, j);
          const ao = object(arg, argp, ["index", "value", "valueTwo", "op"], ["index", "value", "op"]);
          integer(ao["index"], key(argp, "index"), "uint32", 0, 5);
          integer(ao["value"], key(argp, "value"), "uint64");
          optional(ao, "valueTwo", argp, (n, np) => integer(n, np, "uint64"));
          oneOf(ao["op"], key(argp, "op"), SECCOMP_OPERATORS, "operator");
        }),
      );
    }),
  );
  if (actions.includes("SCMP_ACT_NOTIFY") && o["listenerPath"] === undefined) {
    fail(key(path, "listenerPath"), "is required when an action is SCMP_ACT_NOTIFY");
  }
  if (o["defaultAction"] === "SCMP_ACT_NOTIFY") fail(key(path, "defaultAction"), "cannot be SCMP_ACT_NOTIFY");
}

// Sysctls a runtime may set because the kernel scopes them to a namespace (as runc allows).
function sysctlNamespace(name: string): string | undefined {
  if (["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall"].includes(name)) {
    return "ipc";
  }
  if (["kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"].includes(name)) return "ipc";
  if (name.startsWith("fs.mqueue.")) return "ipc";
  if (name.startsWith("net.")) return "network";
  if (name === "kernel.hostname" || name === "kernel.domainname") return "uts";
  return undefined;
}

function validateSysctl(v: unknown, path: string, ns: Map<string, string | undefined>): void {
  for (const name of Object.keys(stringMap(v, path))) {
    const p = key(path, name);
    if (!/^[a-z0-9_]+([./][A-Za-z0-9_\-:@+]+)+$/.test(name)) fail(p, "is not a sysctl name");
    const want = sysctlNamespace(name.replaceAll("/", "."));
    if (want === undefined) fail(p, "is not namespaced and cannot be set in a container");
    if (!ns.has(want)) fail(p, `needs a "${want}" namespace in linux.namespaces`);
  }
}

function validateLinux(v: unknown, path: string, spec: Obj): void {
  const o = object(v, path, [
    "namespaces",
    "uidMappings",
    "gidMappings",
    "timeOffsets",
    "devices",
    "netDevices",
    "cgroupsPath",
    "resources",
    "rootfsPropagation",
    "seccomp",
    "sysctl",
    "maskedPaths",
    "readonlyPaths",
    "mountLabel",
    "personality",
    "intelRdt",
    "memoryPolicy",
  ]);
  const ns =
    o["namespaces"] === undefined
      ? new Map<string, string | undefined>()
      : validateNamespaces(o["namespaces"], key(path, "namespaces"));
  optional(o, "uidMappings", path, validateIDMappings);
  optional(o, "gidMappings", path, validateIDMappings);
  const hasMappings = (o["uidMappings"] ?? o["gidMappings"]) !== undefined;
  if (hasMappings && !ns.has("user"))
    fail(key(path, "uidMappings"), 'needs a "user" namespace in linux.namespaces');
  if (ns.has("user") && ns.get("user") === undefined) {
    if (((o["uidMappings"] as unknown[] | undefined) ?? []).length === 0) {
      fail(key(path, "uidMappings"), "are required for a new user namespace");
    }
    if (((o["gidMappings"] as unknown[] | undefined) ?? []).length === 0) {
      fail(key(path, "gidMappings"), "are required for a new user namespace");
    }
  }
  optional(o, "timeOffsets", path, (t, tp) => {
    for (const [clock, off] of Object.entries(map(t, tp))) {
      const p = key(tp, clock);
      if (clock !== "boottime" && clock !== "monotonic") fail(p, 'must be "boottime" or "monotonic"');
      const x = object(off, p, ["secs", "nanosecs"]);
      optional(x, "secs", p, (n, np) => integer(n, np, "int64"));
      optional(x, "nanosecs", p, (n, np) => integer(n, np, "uint32", 0, 999_999_999));
    }
    if (!ns.has("time")) fail(tp, 'needs a "time" namespace in linux.namespaces');
  });
  optional(o, "devices", path, validateDevices);
  optional(o, "netDevices", path, (d, dp) => {
    for (const [name, dev] of Object.entries(map(d, dp))) {
      const p = key(dp, name);
      if (!/^[^/\s:]{1,15}$/.test(name) || name === "." || name === "..")
        fail(p, "is not a network interface name");
      const x = object(dev, p, ["name"]);
      optional(x, "name", p, (n, np) => {
        const s = string(n, np);
        if (!/^[^/\s:]{1,15}$/.test(s) || s === "." || s === "..")
          fail(np, "is not a network interface name");
      });
    }
    if (!ns.has("network")) fail(dp, 'needs a "network" namespace in linux.namespaces');
  });
  optional(o, "cgroupsPath", path, string);
  optional(o, "resources", path, validateResources);
  optional(o, "rootfsPropagation", path, (x, p) => oneOf(x, p, MOUNT_PROPAGATION, "propagation"));
  optional(o, "seccomp", path, validateSeccomp);
  optional(o, "sysctl", path, (s, p) => validateSysctl(s, p, ns));
  for (const k of ["maskedPaths", "readonlyPaths"]) {
    optional(o, k, path, (a, ap) => each(a, ap, absolute));
  }
  optional(o, "mountLabel", path, string);
  optional(o, "personality", path, (x, p) => {
    const per = object(x, p, ["domain", "flags"], ["domain"]);
    oneOf(per["domain"], key(p, "domain"), PERSONALITY_DOMAINS, "personality domain");
    optional(per, "flags", p, strings);
  });
  optional(o, "intelRdt", path, (x, p) => {
    const r = object(x, p, ["closID", "schemata", "l3CacheSchema", "memBwSchema", "enableMonitoring"]);
    optional(r, "closID", p, string);
    optional(r, "schemata", p, strings);
    optional(r, "l3CacheSchema", p, string);
    optional(r, "memBwSchema", p, (m, mp) => {
      if (!/^MB:[^\n]*$/.test(string(m, mp))) fail(mp, 'must start with "MB:"');
    });
    optional(r, "enableMonitoring", p, boolean);
  });
  optional(o, "memoryPolicy", path, (x, p) => {
    const mp = object(x, p, ["mode", "nodes", "flags"], ["mode"]);
    oneOf(
      mp["mode"],
      key(p, "mode"),
      [
        "MPOL_DEFAULT",
        "MPOL_BIND",
        "MPOL_INTERLEAVE",
        "MPOL_WEIGHTED_INTERLEAVE",
        "MPOL_PREFERRED",
        "MPOL_PREFERRED_MANY",
        "MPOL_LOCAL",
      ],
      "memory policy mode",
    );
    optional(mp, "nodes", p, cpuList);
    optional(mp, "flags", p, (f, fp) =>
      each(f, fp, (fl, q) =>
        oneOf(
          fl,
          q,
          ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"],
          "memory policy flag",
        ),
      ),
    );
  });
  for (const field of ["hostname", "domainname"]) {
    const name = spec[field];
    if (typeof name === "string" && name !== "" && !ns.has("uts")) {
      fail(field, 'needs a "uts" namespace in linux.namespaces');
    }
  }
}

/** Validates the LinuxResources of an Update request (same rules as `linux.resources`). */
export function validateLinuxResources(value: unknown): LinuxResources {
  validateResources(value, "resources");
  return value as LinuxResources;
}

/** Validates a decoded config.json; returns it typed, or throws SpecError. */
export function validateSpec(value: unknown): Spec {
  const o = object(value, "", [
    "ociVersion",
    "process",
    "root",
    "hostname",
    "domainname",
    "mounts",
    "hooks",
    "annotations",
    "linux",
    ...OTHER_PLATFORMS,
  ]);
  if (o["ociVersion"] === undefined) fail("ociVersion", "is required");
  const version = string(o["ociVersion"], "ociVersion");
  if (!/^1\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(version)) {
    fail("ociVersion", `unsupported version ${JSON.stringify(version)} (want 1.x.y)`);
  }
  if (o["root"] === undefined) fail("root", "is required");
  const root = object(o["root"], "root", ["path", "readonly"], ["path"]);
  if (string(root["path"], "root.path") === "") fail("root.path", "must not be empty");
  optional(root, "readonly", "root", boolean);
  optional(o, "process", "", validateProcess);
  for (const k of ["hostname", "domainname"]) {
    optional(o, k, "", (h, p) => {
      const s = string(h, p);
      if (s.length > 64) fail(p, "is longer than 64 characters");
    });
  }
  optional(o, "mounts", "", validateMounts);
  optional(o, "hooks", "", validateHooks);
  optional(o, "annotations", "", stringMap);
  if (o["linux"] !== undefined) validateLinux(o["linux"], "linux", o);
  else
    for (const field of ["hostname", "domainname"]) {
      const name = o[field];
      if (typeof name === "string" && name !== "") fail(field, 'needs a "uts" namespace in linux.namespaces');
    }
  return o as unknown as Spec;
}

// V8's JSON.parse messages do not always carry a position (Node 20 does not), so on failure
// a small scanner walks the text to find where and why it stopped being JSON.
class Scanner {
  pos = 0;
  constructor(private readonly text: string) {}

  error(reason: string): { pos: number; reason: string } {
    return { pos: this.pos, reason };
  }

  ws(): void {
    while (/[ \t\n\r]/.test(this.text[this.pos] ?? "")) this.pos++;
  }

  value(): void {
    this.ws();
    const c = this.text[this.pos];
    if (c === undefined) throw this.error("unexpected end of input");
    if (c === "{") this.container("}", true);
    else if (c === "[") this.container("]", false);
    else if (c === '"') this.string();
    else this.literal(c);
  }

  literal(c: string): void {
    const lit = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(this.text.slice(this.pos));
    if (lit === null) throw this.error(`unexpected character ${JSON.stringify(c)}`);
    this.pos += lit[0].length;
  }

  string(): void {
    this.pos++;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) throw this.error("unterminated string");
      if (c === '"') break;
      if (c < " ") throw this.error("control character in string");
      if (c === "\\") {
        const esc = /^\\(["\\/bfnrt]|u[0-9a-fA-F]{4})/.exec(this.text.slice(this.pos));
        if (esc === null) throw this.error("bad escape in string");
        this.pos += esc[0].length;
      } else this.pos++;
    }
    this.pos++;
  }

  container(close: string, isObject: boolean): void {
    this.pos++;
    this.ws();
    if (this.text[this.pos] === close) {
      this.pos++;
      return;
    }
    for (;;) {
      if (isObject) {
        this.ws();
        if (this.text[this.pos] !== '"') throw this.error("expected a property name in double quotes");
        this.string();
        this.ws();
        if (this.text[this.pos] !== ":") throw this.error('expected ":" after property name');
        this.pos++;
      }
      this.value();
      this.ws();
      const c = this.text[this.pos];
      if (c === ",") {
        this.pos++;
        continue;
      }
      if (c === close) {
        this.pos++;
        return;
      }
      throw this.error(c === undefined ? "unexpected end of input" : `expected "," or "${close}"`);
    }
  }

  document(): { pos: number; reason: string } | undefined {
    try {
      this.value();
      this.ws();
      if (this.pos < this.text.length) throw this.error("unexpected text after the document");
      return undefined;
    } catch (e) {
      if (e instanceof Error) throw e;
      return e as { pos: number; reason: string };
    }
  }
}

function position(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return `line ${line} column ${column}`;
}

/** Parses config.json text; syntax errors name the line and column. */
export function parseSpec(text: string): Spec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const found = new Scanner(text).document();
    const where = found ? position(text, found.pos) : "unknown position";
    const reason = found?.reason ?? (e instanceof Error ? e.message : String(e));
    throw new SpecError("", `invalid JSON at ${where}: ${reason}`);
  }
  return validateSpec(value);
}

/** Validates the OCI process of an exec request (containerd sends it as JSON); errors name `process.<field>`. */
export function validateExecProcess(value: unknown): Process {
  validateProcess(value, "process");
  return value as Process;
}
