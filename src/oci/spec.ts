// Types of the OCI runtime-spec config.json (1.0 – 1.2 and the Linux additions since),
// field names exactly as they appear in the JSON. Checked against
// opencontainers/runtime-spec specs-go/config.go and schema/config-linux.json.
// Integers are JSON numbers: values above 2^53 (e.g. RLIM_INFINITY written as
// 18446744073709551615) arrive rounded, which is how JSON.parse reads them.

export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  // Other platforms' sections are accepted and ignored (kept opaque).
  solaris?: unknown;
  windows?: unknown;
  vm?: unknown;
  zos?: unknown;
  freebsd?: unknown;
}

export interface Box {
  height: number;
  width: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface POSIXRlimit {
  type: string;
  hard: number;
  soft: number;
}

export type IOPriorityClass = "IOPRIO_CLASS_RT" | "IOPRIO_CLASS_BE" | "IOPRIO_CLASS_IDLE";

export interface LinuxIOPriority {
  class: IOPriorityClass;
  priority: number;
}

export type LinuxSchedulerPolicy =
  | "SCHED_OTHER"
  | "SCHED_FIFO"
  | "SCHED_RR"
  | "SCHED_BATCH"
  | "SCHED_ISO"
  | "SCHED_IDLE"
  | "SCHED_DEADLINE";

export type LinuxSchedulerFlag =
  | "SCHED_FLAG_RESET_ON_FORK"
  | "SCHED_FLAG_RECLAIM"
  | "SCHED_FLAG_DL_OVERRUN"
  | "SCHED_FLAG_KEEP_POLICY"
  | "SCHED_FLAG_KEEP_PARAMS"
  | "SCHED_FLAG_UTIL_CLAMP_MIN"
  | "SCHED_FLAG_UTIL_CLAMP_MAX";

export interface Scheduler {
  policy: LinuxSchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: LinuxSchedulerFlag[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export interface CPUAffinity {
  initial?: string;
  final?: string;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  ioPriority?: LinuxIOPriority;
  scheduler?: Scheduler;
  execCPUAffinity?: CPUAffinity;
}

export interface Root {
  path: string;
  readonly?: boolean;
}

export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  /** Deprecated by the spec in favour of createRuntime; still run. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type LinuxNamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup" | "time";

export interface LinuxNamespace {
  type: LinuxNamespaceType;
  path?: string;
}

export interface LinuxTimeOffset {
  secs?: number;
  nanosecs?: number;
}

export type LinuxDeviceType = "c" | "b" | "u" | "p";

export interface LinuxDevice {
  type: LinuxDeviceType;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface LinuxDeviceCgroup {
  allow: boolean;
  /** "a" (all), "c" or "b". */
  type?: string;
  major?: number;
  minor?: number;
  /** Any combination of "r", "w", "m". */
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxPids {
  limit: number;
}

export interface LinuxBlockIODevice {
  major: number;
  minor: number;
}

export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  /** e.g. "2MB", "1GB". */
  pageSize: string;
  limit: number;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  unified?: Record<string, string>;
}

export type LinuxSeccompAction =
  | "SCMP_ACT_KILL"
  | "SCMP_ACT_KILL_PROCESS"
  | "SCMP_ACT_KILL_THREAD"
  | "SCMP_ACT_TRAP"
  | "SCMP_ACT_ERRNO"
  | "SCMP_ACT_TRACE"
  | "SCMP_ACT_ALLOW"
  | "SCMP_ACT_LOG"
  | "SCMP_ACT_NOTIFY";

export type LinuxSeccompOperator =
  | "SCMP_CMP_NE"
  | "SCMP_CMP_LT"
  | "SCMP_CMP_LE"
  | "SCMP_CMP_EQ"
  | "SCMP_CMP_GE"
  | "SCMP_CMP_GT"
  | "SCMP_CMP_MASKED_EQ";

export type LinuxSeccompFlag =
  | "SECCOMP_FILTER_FLAG_TSYNC"
  | "SECCOMP_FILTER_FLAG_LOG"
  | "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
  | "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";

/** "SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", ... (see SUPPORTED.seccompArchitectures). */
export type SeccompArch = string;

export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: LinuxSeccompOperator;
}

export interface LinuxSyscall {
  names: string[];
  action: LinuxSeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  flags?: LinuxSeccompFlag[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

export type LinuxPersonalityDomain = "LINUX" | "LINUX32";

export interface LinuxPersonality {
  domain: LinuxPersonalityDomain;
  flags?: string[];
}

export interface LinuxIntelRdt {
  closID?: string;
  schemata?: string[];
  l3CacheSchema?: string;
  memBwSchema?: string;
  enableMonitoring?: boolean;
}

export type MemoryPolicyMode =
  | "MPOL_DEFAULT"
  | "MPOL_BIND"
  | "MPOL_INTERLEAVE"
  | "MPOL_WEIGHTED_INTERLEAVE"
  | "MPOL_PREFERRED"
  | "MPOL_PREFERRED_MANY"
  | "MPOL_LOCAL";

export type MemoryPolicyFlag = "MPOL_F_NUMA_BALANCING" | "MPOL_F_RELATIVE_NODES" | "MPOL_F_STATIC_NODES";

export interface LinuxMemoryPolicy {
  mode: MemoryPolicyMode;
  nodes?: string;
  flags?: MemoryPolicyFlag[];
}

export interface LinuxNetDevice {
  name?: string;
}

// The schema lists the first four; runc and crun also take the recursive forms.
export type RootfsPropagation =
  | "private"
  | "shared"
  | "slave"
  | "unbindable"
  | "rprivate"
  | "rshared"
  | "rslave"
  | "runbindable";

export interface Linux {
  namespaces?: LinuxNamespace[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  /** Keys "boottime" and "monotonic". */
  timeOffsets?: Record<string, LinuxTimeOffset>;
  devices?: LinuxDevice[];
  netDevices?: Record<string, LinuxNetDevice>;
  cgroupsPath?: string;
  resources?: LinuxResources;
  rootfsPropagation?: RootfsPropagation;
  seccomp?: LinuxSeccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: LinuxPersonality;
  intelRdt?: LinuxIntelRdt;
  memoryPolicy?: LinuxMemoryPolicy;
}

// ---------------------------------------------------------------------------------------------
// Names the runtime knows, with their kernel values where the native core needs them.

/** Namespace type → CLONE_NEW* flag. */
export const NAMESPACES: Readonly<Record<LinuxNamespaceType, number>> = {
  mount: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  cgroup: 0x02000000,
  time: 0x00000080,
};

/** Capability name → bit number (linux/capability.h, up to CAP_LAST_CAP of 6.x kernels). */
export const CAPABILITIES: Readonly<Record<string, number>> = Object.fromEntries(
  [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
  ].map((name, bit) => [`CAP_${name}`, bit]),
);

/** Rlimit name → RLIMIT_* resource number (asm-generic/resource.h, x86_64 and aarch64). */
export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

const MS_RDONLY = 0x1;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;
const MS_SYNCHRONOUS = 0x10;
const MS_REMOUNT = 0x20;
const MS_MANDLOCK = 0x40;
const MS_DIRSYNC = 0x80;
const MS_NOSYMFOLLOW = 0x100;
const MS_NOATIME = 0x400;
const MS_NODIRATIME = 0x800;
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SILENT = 0x8000;
const MS_RELATIME = 0x200000;
const MS_I_VERSION = 0x800000;
const MS_STRICTATIME = 0x1000000;
const MS_LAZYTIME = 0x2000000;

/** A mount(2) flag option: `set` bits are or-ed in, `clear` bits removed. */
export interface MountFlag {
  set: number;
  clear: number;
}

function flag(set: number, clear = 0): MountFlag {
  return { set, clear };
}

/** Options that are mount(2) flags (as runc and crun read them). */
export const MOUNT_FLAGS: Readonly<Record<string, MountFlag>> = {
  defaults: flag(0),
  ro: flag(MS_RDONLY),
  rw: flag(0, MS_RDONLY),
  nosuid: flag(MS_NOSUID),
  suid: flag(0, MS_NOSUID),
  nodev: flag(MS_NODEV),
  dev: flag(0, MS_NODEV),
  noexec: flag(MS_NOEXEC),
  exec: flag(0, MS_NOEXEC),
  sync: flag(MS_SYNCHRONOUS),
  async: flag(0, MS_SYNCHRONOUS),
  remount: flag(MS_REMOUNT),
  mand: flag(MS_MANDLOCK),
  nomand: flag(0, MS_MANDLOCK),
  dirsync: flag(MS_DIRSYNC),
  nosymfollow: flag(MS_NOSYMFOLLOW),
  symfollow: flag(0, MS_NOSYMFOLLOW),
  noatime: flag(MS_NOATIME),
  atime: flag(0, MS_NOATIME),
  nodiratime: flag(MS_NODIRATIME),
  diratime: flag(0, MS_NODIRATIME),
  bind: flag(MS_BIND),
  rbind: flag(MS_BIND | MS_REC),
  silent: flag(MS_SILENT),
  loud: flag(0, MS_SILENT),
  relatime: flag(MS_RELATIME),
  norelatime: flag(0, MS_RELATIME),
  iversion: flag(MS_I_VERSION),
  noiversion: flag(0, MS_I_VERSION),
  strictatime: flag(MS_STRICTATIME),
  nostrictatime: flag(0, MS_STRICTATIME),
  lazytime: flag(MS_LAZYTIME),
  nolazytime: flag(0, MS_LAZYTIME),
};

/** Propagation options (applied by a separate mount(2) call after the mount). */
export const MOUNT_PROPAGATION: readonly RootfsPropagation[] = [
  "private",
  "rprivate",
  "shared",
  "rshared",
  "slave",
  "rslave",
  "unbindable",
  "runbindable",
];

/** Recursive mount attributes, applied with mount_setattr(AT_RECURSIVE). */
export const MOUNT_RECURSIVE: readonly string[] = [
  "rro",
  "rrw",
  "rnosuid",
  "rsuid",
  "rnodev",
  "rdev",
  "rnoexec",
  "rexec",
  "rnodiratime",
  "rdiratime",
  "rrelatime",
  "rnorelatime",
  "rnoatime",
  "ratime",
  "rstrictatime",
  "rnostrictatime",
  "rnosymfollow",
  "rsymfollow",
];

/** Runtime extensions: not kernel flags, interpreted by the runtime itself. */
export const MOUNT_EXTENSIONS: readonly string[] = [
  "tmpcopyup",
  "idmap",
  "ridmap",
  "copy-symlink",
  "src-nofollow",
  "dest-nofollow",
];

/** Filesystem data options without "=" that OCI configs carry (passed in mount(2) data). */
export const MOUNT_DATA_FLAGS: readonly string[] = [
  "newinstance",
  "userxattr",
  "volatile",
  "acl",
  "noacl",
  "user_xattr",
  "nouser_xattr",
  "discard",
  "nodiscard",
  "nouuid",
  "inode32",
  "inode64",
  "noswap",
  "quota",
  "usrquota",
  "grpquota",
];

export const DEVICE_TYPES: readonly LinuxDeviceType[] = ["c", "b", "u", "p"];

export const PERSONALITY_DOMAINS: readonly LinuxPersonalityDomain[] = ["LINUX", "LINUX32"];

export const SECCOMP_ACTIONS: readonly LinuxSeccompAction[] = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
];

export const SECCOMP_OPERATORS: readonly LinuxSeccompOperator[] = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];

export const SECCOMP_FLAGS: readonly LinuxSeccompFlag[] = [
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

export const SECCOMP_ARCHITECTURES: readonly SeccompArch[] = [
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",
  "SCMP_ARCH_SH",
  "SCMP_ARCH_SHEB",
];

/** The facts above in one object, for other modules (and `features`-style reporting). */
export const SUPPORTED = {
  ociVersionMajor: 1,
  namespaces: NAMESPACES,
  capabilities: CAPABILITIES,
  rlimits: RLIMITS,
  mountFlags: MOUNT_FLAGS,
  mountPropagation: MOUNT_PROPAGATION,
  mountRecursive: MOUNT_RECURSIVE,
  mountExtensions: MOUNT_EXTENSIONS,
  mountDataFlags: MOUNT_DATA_FLAGS,
  deviceTypes: DEVICE_TYPES,
  personalityDomains: PERSONALITY_DOMAINS,
  seccompActions: SECCOMP_ACTIONS,
  seccompOperators: SECCOMP_OPERATORS,
  seccompFlags: SECCOMP_FLAGS,
  seccompArchitectures: SECCOMP_ARCHITECTURES,
} as const;
