// Metrics of a cgroup v2 container as io.containerd.cgroups.v2.Metrics, from the files and in
// the units containerd's cgroups v2 manager uses ("max" reads as the largest uint64 there).

import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  CPUStatSchema,
  HugeTlbStatSchema,
  type IOEntry,
  IOEntrySchema,
  IOStatSchema,
  MemoryEventsSchema,
  type MemoryStat,
  MemoryStatSchema,
  type Metrics,
  MetricsSchema,
  PidsStatSchema,
  type RdmaEntry,
  RdmaEntrySchema,
  RdmaStatSchema,
} from "../../api/gen/io/containerd/cgroups/v2/metrics_pb.js";
import { hugePageSizes, parseKeyValues, readOptional } from "./stats-v1.js";

const MAX_UINT64 = 2n ** 64n - 1n;

/** A single-value v2 file: "max" is the largest uint64, as containerd reads it. */
export function parseV2Value(text: string): bigint {
  const t = text.trim();
  if (t === "max") return MAX_UINT64;
  if (t === "" || t.startsWith("-")) return 0n;
  return BigInt(t);
}

function value(dir: string, file: string): bigint {
  const t = readOptional(join(dir, file));
  return t === undefined ? 0n : parseV2Value(t);
}

function kv(dir: string, file: string): Map<string, bigint> {
  return parseKeyValues(readOptional(join(dir, file)) ?? "");
}

type BigintKeys<T> = { [K in keyof T]-?: T[K] extends bigint ? K : never }[keyof T];

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** memory.stat text → MemoryStat (every counter the message has a field for). */
export function parseMemoryStatV2(text: string): MemoryStat {
  const m = create(MemoryStatSchema);
  const fields = new Set(Object.keys(m));
  for (const [k, v] of parseKeyValues(text)) {
    const f = camel(k);
    // usage/limit fields are not memory.stat keys; never let a stat key overwrite them.
    if (!fields.has(f) || f.startsWith("usage") || f.startsWith("swap") || f.startsWith("max")) continue;
    m[f as BigintKeys<MemoryStat>] = v;
  }
  return m;
}

/** io.stat: "maj:min rbytes=1 wbytes=2 rios=3 wios=4 dbytes=.. dios=.." per device. */
export function parseIoStat(text: string): IOEntry[] {
  const out: IOEntry[] = [];
  for (const line of text.split("\n")) {
    const [dev, ...pairs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? "");
    if (m === null) continue;
    const e = create(IOEntrySchema, { major: BigInt(m[1]!), minor: BigInt(m[2]!) });
    for (const p of pairs) {
      const [k, v] = p.split("=");
      if (v === undefined) continue;
      if (k === "rbytes") e.rbytes = BigInt(v);
      else if (k === "wbytes") e.wbytes = BigInt(v);
      else if (k === "rios") e.rios = BigInt(v);
      else if (k === "wios") e.wios = BigInt(v);
    }
    out.push(e);
  }
  return out;
}

/** rdma.current / rdma.max: "mlx4_0 hca_handle=2 hca_object=2000" ("max" counts as the largest uint32). */
export function parseRdma(text: string): RdmaEntry[] {
  const num = (v: string | undefined) => (v === undefined ? 0 : v === "max" ? 4294967295 : Number(v));
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] !== undefined && f[0] !== "")
    .map(([device, ...pairs]) => {
      const kvs = new Map(pairs.map((p) => p.split("=") as [string, string]));
      return create(RdmaEntrySchema, {
        device: device!,
        hcaHandles: num(kvs.get("hca_handle")),
        hcaObjects: num(kvs.get("hca_object")),
      });
    });
}

/** The Metrics of a v2 container from its directory (files of disabled controllers are absent). */
export function statsV2(dir: string): Metrics {
  const m = create(MetricsSchema);
  m.pids = create(PidsStatSchema, { current: value(dir, "pids.current"), limit: value(dir, "pids.max") });
  const cpu = kv(dir, "cpu.stat");
  m.cpu = create(CPUStatSchema, {
    usageUsec: cpu.get("usage_usec") ?? 0n,
    userUsec: cpu.get("user_usec") ?? 0n,
    systemUsec: cpu.get("system_usec") ?? 0n,
    nrPeriods: cpu.get("nr_periods") ?? 0n,
    nrThrottled: cpu.get("nr_throttled") ?? 0n,
    throttledUsec: cpu.get("throttled_usec") ?? 0n,
    nrBursts: cpu.get("nr_bursts") ?? 0n,
    burstUsec: cpu.get("burst_usec") ?? 0n,
  });
  const memStat = readOptional(join(dir, "memory.stat"));
  if (memStat !== undefined) {
    const mem = parseMemoryStatV2(memStat);
    mem.usage = value(dir, "memory.current");
    mem.usageLimit = value(dir, "memory.max");
    mem.swapUsage = value(dir, "memory.swap.current");
    mem.swapLimit = value(dir, "memory.swap.max");
    mem.maxUsage = value(dir, "memory.peak");
    mem.swapMaxUsage = value(dir, "memory.swap.peak");
    m.memory = mem;
    const ev = kv(dir, "memory.events");
    m.memoryEvents = create(MemoryEventsSchema, {
      low: ev.get("low") ?? 0n,
      high: ev.get("high") ?? 0n,
      max: ev.get("max") ?? 0n,
      oom: ev.get("oom") ?? 0n,
      oomKill: ev.get("oom_kill") ?? 0n,
      oomGroupKill: ev.get("oom_group_kill") ?? 0n,
    });
  }
  const io = readOptional(join(dir, "io.stat"));
  if (io !== undefined) m.io = create(IOStatSchema, { usage: parseIoStat(io) });
  const rdma = readOptional(join(dir, "rdma.current"));
  if (rdma !== undefined) {
    m.rdma = create(RdmaStatSchema, {
      current: parseRdma(rdma),
      limit: parseRdma(readOptional(join(dir, "rdma.max")) ?? ""),
    });
  }
  m.hugetlb = hugePageSizes().flatMap((size) => {
    const current = readOptional(join(dir, `hugetlb.${size}.current`));
    if (current === undefined) return [];
    return [
      create(HugeTlbStatSchema, {
        pagesize: size,
        current: parseV2Value(current),
        max: value(dir, `hugetlb.${size}.max`),
        failcnt: kv(dir, `hugetlb.${size}.events`).get("max") ?? 0n,
      }),
    ];
  });
  return m;
}
