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

export type RootfsPropagation = "private" | "shared" | "slave" | "unbindable";

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
