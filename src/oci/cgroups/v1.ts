// cgroup v1: the container has one directory in every mounted v1 hierarchy (controllers and
// named ones such as name=systemd). Limits go to the hierarchy that owns each controller.

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LinuxDeviceCgroup, LinuxResources } from "../spec.js";
import {
  applyWith,
  type CgroupBackend,
  type FreezerState,
  MissingController,
  type ResourceWriter,
} from "./backend.js";
import { applyDeviceRule, deviceTransition, parseDevicesList } from "./devices-v1.js";
import { CgroupError, readFile, readPidsTree, sleep, writeFile } from "./files.js";
import type { V1Hierarchy } from "./mode.js";
import { type DirTarget, enterAll } from "./place.js";

export interface V1Dir {
  hierarchy: V1Hierarchy;
  dir: string;
}

export class V1Cgroup implements CgroupBackend {
  readonly version = 1;
  constructor(private readonly entries: V1Dir[]) {}

  dirs(): string[] {
    return this.entries.map((e) => e.dir);
  }

  /** The container's directory for one controller, or undefined when it is not mounted. */
  dirOf(controller: string): string | undefined {
    return this.entries.find((e) => e.hierarchy.controllers.includes(controller))?.dir;
  }

  createTargets(): DirTarget[] {
    // A new cpuset cgroup starts with no cpus and mems, and no task can join it until they
    // are copied down from the parent (the native mkdir does that for cpuset targets).
    return this.entries.map((e) => ({ dir: e.dir, cpuset: e.hierarchy.controllers.includes("cpuset") }));
  }

  afterCreate(): void {}

  enter(pid: number): void {
    enterAll(this.procsFiles(), pid);
  }

  procsFiles(): string[] {
    return this.dirs().map((d) => join(d, "cgroup.procs"));
  }

  /** Per-thread membership files: a thread writing "0" moves only itself. */
  tasksFiles(): string[] {
    return this.dirs().map((d) => join(d, "tasks"));
  }

  pids(): number[] {
    // Every hierarchy holds the same processes; read the one most likely present.
    const dir = this.dirOf("pids") ?? this.dirOf("freezer") ?? this.entries[0]?.dir;
    return dir === undefined ? [] : readPidsTree(dir);
  }

  canFreeze(): boolean {
    return this.dirOf("freezer") !== undefined;
  }

  private freezerFile(): string {
    const dir = this.dirOf("freezer");
    if (dir === undefined) throw new CgroupError("the v1 freezer controller is not mounted", "");
    return join(dir, "freezer.state");
  }

  freezerState(): FreezerState {
    const s = readFile(this.freezerFile()).trim();
    return s === "FROZEN" ? "frozen" : s === "FREEZING" ? "freezing" : "thawed";
  }

  async freeze(timeoutMs: number): Promise<void> {
    const file = this.freezerFile();
    const deadline = Date.now() + timeoutMs;
    let delay = 1;
    for (let i = 0; ; i++) {
      // Writing FROZEN again nudges tasks that were forking while the first request ran.
      if (i % 8 === 0) writeFile(file, "FROZEN");
      if (readFile(file).trim() === "FROZEN") return;
      if (Date.now() >= deadline) {
        writeFile(file, "THAWED");
        throw new CgroupError(`freeze ${JSON.stringify(file)}: still FREEZING after ${timeoutMs} ms`, file);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 10);
    }
  }

  async thaw(): Promise<void> {
    const file = this.freezerFile();
    writeFile(file, "THAWED");
    while (readFile(file).trim() !== "THAWED") await sleep(1);
  }

  killAll(): boolean {
    return false;
  }

  applyResources(resources: LinuxResources) {
    return applyWith(V1_WRITERS, this, resources);
  }
}

function existsFile(path: string): boolean {
  return existsSync(path);
}

function need(cg: V1Cgroup, controller: string): string {
  const dir = cg.dirOf(controller);
  if (dir === undefined) throw new MissingController(controller);
  return dir;
}

// OCI: a pids limit of 0 or below means no limit.
const pids: ResourceWriter<V1Cgroup> = (cg, r) => {
  const limit = r.pids?.limit ?? 0;
  writeFile(join(need(cg, "pids"), "pids.max"), limit > 0 ? String(limit) : "max");
  return [];
};

const memory: ResourceWriter<V1Cgroup> = (cg, r) => {
  const m = r.memory ?? {};
  const dir = need(cg, "memory");
  const set = (file: string, v: number | undefined) => {
    if (v !== undefined && v !== 0) writeFile(join(dir, file), String(v));
  };
  // memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes: when the swap limit
  // grows, raise it first; when it shrinks, lower the memory limit first.
  const unsupported: string[] = [];
  const swapFile = join(dir, "memory.memsw.limit_in_bytes");
  const swap = m.swap ?? 0;
  // Without swap accounting (swapaccount=0) the kernel has no memsw files.
  if (swap !== 0 && !existsFile(swapFile)) unsupported.push("memory.swap");
  if (swap !== 0 && existsFile(swapFile)) {
    const current = Number(readFile(swapFile).trim());
    if (swap === -1 || swap > current) {
      set("memory.memsw.limit_in_bytes", m.swap);
      set("memory.limit_in_bytes", m.limit);
    } else {
      set("memory.limit_in_bytes", m.limit);
      set("memory.memsw.limit_in_bytes", m.swap);
    }
  } else set("memory.limit_in_bytes", m.limit);
  set("memory.soft_limit_in_bytes", m.reservation);
  if (m.swappiness !== undefined) writeFile(join(dir, "memory.swappiness"), String(m.swappiness));
  if (m.disableOOMKiller === true) writeFile(join(dir, "memory.oom_control"), "1");
  // kernel/kernelTCP are deprecated and ignored, as runc does.
  return unsupported;
};

const cpu: ResourceWriter<V1Cgroup> = (cg, r) => {
  const c = r.cpu ?? {};
  const unsupported: string[] = [];
  const cpuDir = () => need(cg, "cpu");
  const set = (file: string, v: number | undefined) => {
    if (v !== undefined && v !== 0) writeFile(join(cpuDir(), file), String(v));
  };
  set("cpu.shares", c.shares);
  // The kernel checks quota against period as each is written: try period first, and the
  // other order if that combination is refused.
  try {
    set("cpu.cfs_period_us", c.period);
    set("cpu.cfs_quota_us", c.quota);
  } catch (e) {
    if (!(e instanceof CgroupError && e.code === "EINVAL")) throw e;
    set("cpu.cfs_quota_us", c.quota);
    set("cpu.cfs_period_us", c.period);
  }
  if (c.burst !== undefined) {
    if (existsFile(join(cpuDir(), "cpu.cfs_burst_us"))) {
      writeFile(join(cpuDir(), "cpu.cfs_burst_us"), String(c.burst));
    } else unsupported.push("cpu.burst");
  }
  set("cpu.rt_period_us", c.realtimePeriod);
  set("cpu.rt_runtime_us", c.realtimeRuntime);
  if (c.idle !== undefined) writeFile(join(cpuDir(), "cpu.idle"), String(c.idle));
  if (c.cpus !== undefined && c.cpus !== "") writeFile(join(need(cg, "cpuset"), "cpuset.cpus"), c.cpus);
  if (c.mems !== undefined && c.mems !== "") writeFile(join(need(cg, "cpuset"), "cpuset.mems"), c.mems);
  return unsupported;
};

const hugepageLimits: ResourceWriter<V1Cgroup> = (cg, r) => {
  const dir = need(cg, "hugetlb");
  for (const h of r.hugepageLimits ?? []) {
    writeFile(join(dir, `hugetlb.${h.pageSize}.limit_in_bytes`), String(h.limit));
    // Reservations are accounted separately on kernels that have them; limit both alike.
    const rsvd = join(dir, `hugetlb.${h.pageSize}.rsvd.limit_in_bytes`);
    if (existsFile(rsvd)) writeFile(rsvd, String(h.limit));
  }
  return [];
};

const blockIO: ResourceWriter<V1Cgroup> = (cg, r) => {
  const b = r.blockIO ?? {};
  const dir = need(cg, "blkio");
  const unsupported: string[] = [];
  // Kernels with BFQ name the weight files blkio.bfq.*; CFQ-era kernels blkio.*.
  const weightFile = existsFile(join(dir, "blkio.weight")) ? "blkio.weight" : "blkio.bfq.weight";
  const deviceFile = existsFile(join(dir, "blkio.weight_device"))
    ? "blkio.weight_device"
    : "blkio.bfq.weight_device";
  if (b.weight !== undefined && b.weight !== 0) writeFile(join(dir, weightFile), String(b.weight));
  for (const d of b.weightDevice ?? []) {
    if (d.weight !== undefined) writeFile(join(dir, deviceFile), `${d.major}:${d.minor} ${d.weight}`);
  }
  if (b.leafWeight !== undefined || (b.weightDevice ?? []).some((d) => d.leafWeight !== undefined)) {
    if (existsFile(join(dir, "blkio.leaf_weight"))) {
      if (b.leafWeight !== undefined) writeFile(join(dir, "blkio.leaf_weight"), String(b.leafWeight));
      for (const d of b.weightDevice ?? []) {
        if (d.leafWeight !== undefined) {
          writeFile(join(dir, "blkio.leaf_weight_device"), `${d.major}:${d.minor} ${d.leafWeight}`);
        }
      }
    } else unsupported.push("blockIO.leafWeight");
  }
  const throttles = [
    ["throttleReadBpsDevice", "blkio.throttle.read_bps_device"],
    ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device"],
    ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device"],
    ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"],
  ] as const;
  for (const [field, file] of throttles) {
    for (const d of b[field] ?? []) writeFile(join(dir, file), `${d.major}:${d.minor} ${d.rate}`);
  }
  return unsupported;
};

// Access every container has to the runtime-spec's default devices (and mknod of any char or
// block device, which the runtime needs to create them), added after the spec's own rules the
// way runc and crun do, so a spec that only says "deny all" still gets a working /dev.
export const DEFAULT_ALLOWED_DEVICES: readonly LinuxDeviceCgroup[] = [
  { allow: true, type: "c", access: "m" },
  { allow: true, type: "b", access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, // null
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }, // zero
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" }, // full
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" }, // random
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" }, // urandom
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" }, // tty
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" }, // console
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" }, // ptmx
  { allow: true, type: "c", major: 136, access: "rwm" }, // pts/*
];

/** One devices.allow / devices.deny line: "c 1:3 rwm", "a" for every device. */
export function deviceRule(d: LinuxDeviceCgroup): string {
  const type = d.type ?? "a";
  if (type === "a") return "a";
  const num = (n: number | undefined) => (n === undefined || n < 0 ? "*" : String(n));
  return `${type} ${num(d.major)}:${num(d.minor)} ${d.access || "rwm"}`;
}

// Rules apply in order, each on top of the previous ones, which is how the kernel's v1 list
// behaves. The target list is emulated from the current one (devices-v1.ts) and only the
// difference is written, so an Update never denies for a moment what both lists allow.
const devices: ResourceWriter<V1Cgroup> = (cg, r) => {
  const dir = need(cg, "devices");
  const current = parseDevicesList(readFile(join(dir, "devices.list")));
  const target = [...(r.devices ?? []), ...DEFAULT_ALLOWED_DEVICES].reduce(applyDeviceRule, current);
  for (const w of deviceTransition(current, target)) writeFile(join(dir, w.file), w.line);
  return [];
};

const rdma: ResourceWriter<V1Cgroup> = (cg, r) => {
  for (const [device, l] of Object.entries(r.rdma ?? {})) {
    const parts = [device];
    if (l.hcaHandles !== undefined) parts.push(`hca_handle=${l.hcaHandles}`);
    if (l.hcaObjects !== undefined) parts.push(`hca_object=${l.hcaObjects}`);
    if (parts.length > 1) writeFile(join(need(cg, "rdma"), "rdma.max"), parts.join(" "));
  }
  return [];
};

// net_cls tags the container's packets with a class id; net_prio sets per-interface priorities.
const network: ResourceWriter<V1Cgroup> = (cg, r) => {
  const n = r.network ?? {};
  if (n.classID !== undefined) writeFile(join(need(cg, "net_cls"), "net_cls.classid"), String(n.classID));
  for (const p of n.priorities ?? []) {
    writeFile(join(need(cg, "net_prio"), "net_prio.ifpriomap"), `${p.name} ${p.priority}`);
  }
  return [];
};

const V1_WRITERS: Partial<Record<keyof LinuxResources, ResourceWriter<V1Cgroup>>> = {
  pids,
  memory,
  cpu,
  hugepageLimits,
  blockIO,
  devices,
  rdma,
  network,
};
