// Metrics of a cgroup v1 container as io.containerd.cgroups.v1.Metrics, filled from the same
// files and in the same units as containerd's own cgroups library does for runc's shim, so
// `ctr task metrics` and CRI's ContainerStats read them alike.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  type BlkIOEntry,
  BlkIOEntrySchema,
  BlkIOStatSchema,
  CPUStatSchema,
  CPUUsageSchema,
  HugetlbStatSchema,
  type MemoryEntry,
  MemoryEntrySchema,
  MemoryOomControlSchema,
  type MemoryStat,
  MemoryStatSchema,
  type Metrics,
  MetricsSchema,
  PidsStatSchema,
  ThrottleSchema,
} from "../../api/gen/io/containerd/cgroups/v1/metrics_pb.js";

/** The container's directory per v1 controller (undefined: not mounted). */
export type V1DirOf = (controller: string) => string | undefined;

/** File contents, or undefined when the file does not exist (a controller feature the kernel lacks). */
export function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if (typeof e === "object" && e !== null && "code" in e && e.code === "ENOENT") return undefined;
    throw e;
  }
}

/** A cgroup number: "max" (no limit) is 0, as containerd reports it. */
export function parseUint(text: string): bigint {
  const t = text.trim();
  if (t === "max" || t === "") return 0n;
  // Negative values (e.g. -1 of an unlimited limit) clamp to 0 like Go's ParseUint fallback.
  if (t.startsWith("-")) return 0n;
  return BigInt(t);
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.oom_control). */
export function parseKeyValues(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === undefined || k === "" || v === undefined) continue;
    out.set(k, parseUint(v));
  }
  return out;
}

const USER_HZ = 100n; // sysconf(_SC_CLK_TCK) on Linux; cpuacct.stat counts in these ticks.
const NS_PER_TICK = 1_000_000_000n / USER_HZ;

function uintFile(dir: string, file: string): bigint | undefined {
  const t = readOptional(join(dir, file));
  return t === undefined ? undefined : parseUint(t);
}

function pidsStat(dir: string) {
  return create(PidsStatSchema, {
    current: uintFile(dir, "pids.current") ?? 0n,
    limit: uintFile(dir, "pids.max") ?? 0n,
  });
}

function cpuStat(cpuacct: string | undefined, cpu: string | undefined) {
  const usage = create(CPUUsageSchema);
  if (cpuacct !== undefined) {
    usage.total = uintFile(cpuacct, "cpuacct.usage") ?? 0n;
    const perCpu = readOptional(join(cpuacct, "cpuacct.usage_percpu")) ?? "";
    usage.perCpu = perCpu.trim().split(/\s+/).filter(Boolean).map(parseUint);
    const stat = parseKeyValues(readOptional(join(cpuacct, "cpuacct.stat")) ?? "");
    usage.user = (stat.get("user") ?? 0n) * NS_PER_TICK;
    usage.kernel = (stat.get("system") ?? 0n) * NS_PER_TICK;
  }
  const throttling = create(ThrottleSchema);
  if (cpu !== undefined) {
    const stat = parseKeyValues(readOptional(join(cpu, "cpu.stat")) ?? "");
    throttling.periods = stat.get("nr_periods") ?? 0n;
    throttling.throttledPeriods = stat.get("nr_throttled") ?? 0n;
    throttling.throttledTime = stat.get("throttled_time") ?? 0n;
  }
  return create(CPUStatSchema, { usage, throttling });
}

// memory.stat key → MemoryStat field (each also exists as total_<key>).
const MEMORY_STAT_KEYS: readonly [string, keyof MemoryStat][] = [
  ["cache", "cache"],
  ["rss", "rss"],
  ["rss_huge", "rssHuge"],
  ["mapped_file", "mappedFile"],
  ["dirty", "dirty"],
  ["writeback", "writeback"],
  ["pgpgin", "pgPgIn"],
  ["pgpgout", "pgPgOut"],
  ["pgfault", "pgFault"],
  ["pgmajfault", "pgMajFault"],
  ["inactive_anon", "inactiveAnon"],
  ["active_anon", "activeAnon"],
  ["inactive_file", "inactiveFile"],
  ["active_file", "activeFile"],
  ["unevictable", "unevictable"],
];

type BigintKeys<T> = { [K in keyof T]-?: T[K] extends bigint ? K : never }[keyof T];

function totalField(f: keyof MemoryStat): BigintKeys<MemoryStat> {
  return `total${f[0]!.toUpperCase()}${f.slice(1)}` as BigintKeys<MemoryStat>;
}

/** memory.stat text → the MemoryStat counters (usage entries are filled separately). */
export function parseMemoryStatV1(text: string): MemoryStat {
  const kv = parseKeyValues(text);
  const m = create(MemoryStatSchema);
  for (const [key, field] of MEMORY_STAT_KEYS) {
    const f = field as BigintKeys<MemoryStat>;
    m[f] = kv.get(key) ?? 0n;
    m[totalField(field)] = kv.get(`total_${key}`) ?? 0n;
  }
  m.hierarchicalMemoryLimit = kv.get("hierarchical_memory_limit") ?? 0n;
  m.hierarchicalSwapLimit = kv.get("hierarchical_memsw_limit") ?? 0n;
  return m;
}

function memoryEntry(dir: string, prefix: string): MemoryEntry | undefined {
  const usage = uintFile(dir, `${prefix}usage_in_bytes`);
  // Without swap accounting (or kmem on new kernels) the whole group of files is absent.
  if (usage === undefined) return undefined;
  return create(MemoryEntrySchema, {
    usage,
    max: uintFile(dir, `${prefix}max_usage_in_bytes`) ?? 0n,
    failcnt: uintFile(dir, `${prefix}failcnt`) ?? 0n,
    limit: uintFile(dir, `${prefix}limit_in_bytes`) ?? 0n,
  });
}

function memoryStat(dir: string): MemoryStat {
  const m = parseMemoryStatV1(readOptional(join(dir, "memory.stat")) ?? "");
  const set = (k: "usage" | "swap" | "kernel" | "kernelTcp", prefix: string) => {
    const e = memoryEntry(dir, prefix);
    if (e !== undefined) m[k] = e;
  };
  set("usage", "memory.");
  set("swap", "memory.memsw.");
  set("kernel", "memory.kmem.");
  set("kernelTcp", "memory.kmem.tcp.");
  return m;
}

function oomControl(dir: string) {
  const kv = parseKeyValues(readOptional(join(dir, "memory.oom_control")) ?? "");
  return create(MemoryOomControlSchema, {
    oomKillDisable: kv.get("oom_kill_disable") ?? 0n,
    underOom: kv.get("under_oom") ?? 0n,
    oomKill: kv.get("oom_kill") ?? 0n,
  });
}

/** major:minor → "/dev/<name>" from /proc/partitions, as containerd names blkio devices. */
export function parsePartitions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 4 || !/^\d+$/.test(f[0]!)) continue;
    out.set(`${f[0]}:${f[1]}`, `/dev/${f[3]}`);
  }
  return out;
}

/** One blkio.*_recursive file: "maj:min Op value" lines (or "maj:min value"); Total lines skipped. */
export function parseBlkioEntries(text: string, devices: Map<string, string>): BlkIOEntry[] {
  const out: BlkIOEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2 || f[0] === "Total") continue;
    const m = /^(\d+):(\d+)$/.exec(f[0]!);
    if (m === null) continue;
    const op = f.length >= 3 ? f[1]! : "";
    const value = f.length >= 3 ? f[2]! : f[1]!;
    out.push(
      create(BlkIOEntrySchema, {
        op,
        device: devices.get(`${m[1]}:${m[2]}`) ?? "",
        major: BigInt(m[1]!),
        minor: BigInt(m[2]!),
        value: parseUint(value),
      }),
    );
  }
  return out;
}

function blkioStat(dir: string) {
  const devices = parsePartitions(readOptional("/proc/partitions") ?? "");
  const s = create(BlkIOStatSchema);
  const read = (file: string) => parseBlkioEntries(readOptional(join(dir, file)) ?? "", devices);
  // CFQ kernels have the full set; others (BFQ, blk-mq) only the throttle counters.
  if (readOptional(join(dir, "blkio.io_serviced_recursive")) !== undefined) {
    s.sectorsRecursive = read("blkio.sectors_recursive");
    s.ioServiceBytesRecursive = read("blkio.io_service_bytes_recursive");
    s.ioServicedRecursive = read("blkio.io_serviced_recursive");
    s.ioQueuedRecursive = read("blkio.io_queued_recursive");
    s.ioServiceTimeRecursive = read("blkio.io_service_time_recursive");
    s.ioWaitTimeRecursive = read("blkio.io_wait_time_recursive");
    s.ioMergedRecursive = read("blkio.io_merged_recursive");
    s.ioTimeRecursive = read("blkio.time_recursive");
  } else {
    s.ioServicedRecursive = read("blkio.throttle.io_serviced_recursive");
    s.ioServiceBytesRecursive = read("blkio.throttle.io_service_bytes_recursive");
  }
  return s;
}

/** Page sizes the kernel offers, named as the hugetlb files name them ("2MB", "1GB"). */
export function hugePageSizes(): string[] {
  let names: string[];
  try {
    names = readdirSync("/sys/kernel/mm/hugepages");
  } catch {
    return [];
  }
  const units = ["KB", "MB", "GB", "TB"];
  return names.flatMap((n) => {
    const m = /^hugepages-(\d+)kB$/.exec(n);
    if (m === null) return [];
    let size = Number(m[1]);
    let u = 0;
    while (size >= 1024 && size % 1024 === 0 && u < units.length - 1) {
      size /= 1024;
      u++;
    }
    return [`${size}${units[u]}`];
  });
}

function hugetlbStats(dir: string) {
  const prefix = "hugetlb";
  return hugePageSizes().flatMap((size) => {
    const usage = uintFile(dir, `${prefix}.${size}.usage_in_bytes`);
    if (usage === undefined) return [];
    return [
      create(HugetlbStatSchema, {
        pagesize: size,
        usage,
        max: uintFile(dir, `${prefix}.${size}.max_usage_in_bytes`) ?? 0n,
        failcnt: uintFile(dir, `${prefix}.${size}.failcnt`) ?? 0n,
      }),
    ];
  });
}

/** The Metrics of a v1 container from its directories (controllers not mounted are left out). */
export function statsV1(dirOf: V1DirOf): Metrics {
  const m = create(MetricsSchema);
  const pids = dirOf("pids");
  if (pids !== undefined) m.pids = pidsStat(pids);
  const cpuacct = dirOf("cpuacct");
  const cpu = dirOf("cpu");
  if (cpuacct !== undefined || cpu !== undefined) m.cpu = cpuStat(cpuacct, cpu);
  const memory = dirOf("memory");
  if (memory !== undefined) {
    m.memory = memoryStat(memory);
    m.memoryOomControl = oomControl(memory);
  }
  const blkio = dirOf("blkio");
  if (blkio !== undefined) m.blkio = blkioStat(blkio);
  const hugetlb = dirOf("hugetlb");
  if (hugetlb !== undefined) m.hugetlb = hugetlbStats(hugetlb);
  return m;
}
