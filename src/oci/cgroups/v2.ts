// cgroup v2: one directory in the unified hierarchy. Controllers must be enabled in every
// ancestor's cgroup.subtree_control for their files to appear in the container's directory.

import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { LinuxResources } from "../spec.js";
import { applyWith, type CgroupBackend, type FreezerState, type ResourceWriter } from "./backend.js";
import { deviceProgram, encodeProgram } from "./devices-bpf.js";
import { CgroupError, readFile, readPidsTree, sleep, writeFile } from "./files.js";
import { nativeCgroup } from "./native.js";
import { type DirTarget, enterAll } from "./place.js";
import { DEFAULT_ALLOWED_DEVICES } from "./v1.js";

export class V2Cgroup implements CgroupBackend {
  readonly version = 2;
  /**
   * @param mountpoint where the unified hierarchy is mounted
   * @param dir the container's directory under it
   * @param enableControllers false for hybrid placement, where controllers live in v1
   */
  constructor(
    readonly mountpoint: string,
    readonly dir: string,
    private readonly enableControllers = true,
  ) {}

  dirs(): string[] {
    return [this.dir];
  }

  private relativeDir(): string {
    const rel = relative(this.mountpoint, this.dir);
    if (rel === "" || rel.startsWith("..")) {
      throw new CgroupError(`cgroup ${JSON.stringify(this.dir)} is not below ${this.mountpoint}`, this.dir);
    }
    return rel;
  }

  createTargets(): DirTarget[] {
    this.relativeDir();
    return [{ dir: this.dir, cpuset: false }];
  }

  afterCreate(): void {
    if (!this.enableControllers) return;
    // From the hierarchy root down to the container's parent.
    let cur = this.mountpoint;
    for (const part of this.relativeDir().split("/").slice(0, -1)) {
      enableAll(cur);
      cur = join(cur, part);
    }
    enableAll(cur);
  }

  enter(pid: number): void {
    enterAll(this.procsFiles(), pid);
  }

  procsFiles(): string[] {
    return [join(this.dir, "cgroup.procs")];
  }

  pids(): number[] {
    return readPidsTree(this.dir);
  }

  canFreeze(): boolean {
    return existsSync(join(this.dir, "cgroup.freeze"));
  }

  private frozen(): boolean {
    return /^frozen 1$/m.test(readFile(join(this.dir, "cgroup.events")));
  }

  freezerState(): FreezerState {
    const requested = readFile(join(this.dir, "cgroup.freeze")).trim() === "1";
    if (!requested) return "thawed";
    return this.frozen() ? "frozen" : "freezing";
  }

  async freeze(timeoutMs: number): Promise<void> {
    writeFile(join(this.dir, "cgroup.freeze"), "1");
    const deadline = Date.now() + timeoutMs;
    let delay = 1;
    while (!this.frozen()) {
      if (Date.now() >= deadline) {
        writeFile(join(this.dir, "cgroup.freeze"), "0");
        throw new CgroupError(
          `freeze ${JSON.stringify(this.dir)}: not frozen after ${timeoutMs} ms`,
          this.dir,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 10);
    }
  }

  async thaw(): Promise<void> {
    writeFile(join(this.dir, "cgroup.freeze"), "0");
    while (this.frozen()) await sleep(1);
  }

  killAll(): boolean {
    const file = join(this.dir, "cgroup.kill");
    if (!existsSync(file)) return false;
    writeFile(file, "1");
    return true;
  }

  applyResources(resources: LinuxResources) {
    return applyWith(V2_WRITERS, this.dir, resources);
  }
}

/** Enables in dir's subtree_control every controller its cgroup.controllers offers. */
function enableAll(dir: string): void {
  const available = readFile(join(dir, "cgroup.controllers")).trim().split(/\s+/).filter(Boolean);
  const enabled = new Set(readFile(join(dir, "cgroup.subtree_control")).trim().split(/\s+/));
  const missing = available.filter((c) => !enabled.has(c));
  if (missing.length === 0) return;
  try {
    writeFile(join(dir, "cgroup.subtree_control"), missing.map((c) => `+${c}`).join(" "));
  } catch {
    // One by one, so a controller the kernel refuses here (e.g. EBUSY because this cgroup has
    // processes of its own) does not keep the others off. A limit that needs a refused
    // controller then fails on its missing file, naming it.
    for (const c of missing) {
      try {
        writeFile(join(dir, "cgroup.subtree_control"), `+${c}`);
      } catch {}
    }
  }
}

const pids: ResourceWriter<string> = (dir, r) => {
  const limit = r.pids?.limit ?? 0;
  writeFile(join(dir, "pids.max"), limit > 0 ? String(limit) : "max");
  return [];
};

/** OCI's swap is memory+swap (the v1 memsw meaning); v2's memory.swap.max is swap alone. */
export function swapMaxV2(limit: number | undefined, swap: number | undefined): string | undefined {
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return "max";
  if (limit === undefined || limit === 0 || limit === -1) {
    throw new CgroupError("linux.resources.memory.swap needs a memory limit on cgroup v2", "");
  }
  if (swap < limit) {
    throw new CgroupError(`linux.resources.memory.swap ${swap} is below the memory limit ${limit}`, "");
  }
  return String(swap - limit);
}

const memory: ResourceWriter<string> = (dir, r) => {
  const m = r.memory ?? {};
  const swap = swapMaxV2(m.limit, m.swap);
  if (swap !== undefined) writeFile(join(dir, "memory.swap.max"), swap);
  if (m.limit !== undefined && m.limit !== 0)
    writeFile(join(dir, "memory.max"), m.limit === -1 ? "max" : String(m.limit));
  if (m.reservation !== undefined && m.reservation !== 0) {
    writeFile(join(dir, "memory.low"), m.reservation === -1 ? "max" : String(m.reservation));
  }
  // swappiness has no v2 file; disableOOMKiller has no v2 equivalent.
  const unsupported: string[] = [];
  if (m.swappiness !== undefined) unsupported.push("memory.swappiness");
  if (m.disableOOMKiller === true) unsupported.push("memory.disableOOMKiller");
  return unsupported;
};

const unified: ResourceWriter<string> = (dir, r) => {
  for (const [file, value] of Object.entries(r.unified ?? {})) {
    if (file.includes("/") || dirname(join(dir, file)) !== dir) {
      throw new CgroupError(
        `linux.resources.unified: ${JSON.stringify(file)} is not a file of this cgroup`,
        dir,
      );
    }
    writeFile(join(dir, file), value);
  }
  return [];
};

/** cpu.shares (2..262144) → cpu.weight (1..10000), the mapping runc and crun use. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** blkio weight (10..1000) → io.weight (1..10000). */
export function blkioToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

const cpu: ResourceWriter<string> = (dir, r) => {
  const c = r.cpu ?? {};
  const unsupported: string[] = [];
  if (c.shares !== undefined && c.shares !== 0)
    writeFile(join(dir, "cpu.weight"), String(sharesToWeight(c.shares)));
  if ((c.quota !== undefined && c.quota !== 0) || (c.period !== undefined && c.period !== 0)) {
    const quota = c.quota === undefined || c.quota <= 0 ? "max" : String(c.quota);
    writeFile(join(dir, "cpu.max"), `${quota} ${c.period && c.period > 0 ? c.period : 100000}`);
  }
  if (c.burst !== undefined) writeFile(join(dir, "cpu.max.burst"), String(c.burst));
  if (c.idle !== undefined) writeFile(join(dir, "cpu.idle"), String(c.idle));
  if (c.cpus !== undefined && c.cpus !== "") writeFile(join(dir, "cpuset.cpus"), c.cpus);
  if (c.mems !== undefined && c.mems !== "") writeFile(join(dir, "cpuset.mems"), c.mems);
  // cgroup v2 has no per-cgroup realtime budget.
  if (c.realtimePeriod || c.realtimeRuntime) unsupported.push("cpu.realtimePeriod/realtimeRuntime");
  return unsupported;
};

const hugepageLimits: ResourceWriter<string> = (dir, r) => {
  for (const h of r.hugepageLimits ?? []) {
    writeFile(join(dir, `hugetlb.${h.pageSize}.max`), String(h.limit));
    const rsvd = join(dir, `hugetlb.${h.pageSize}.rsvd.max`);
    if (existsSync(rsvd)) writeFile(rsvd, String(h.limit));
  }
  return [];
};

const blockIO: ResourceWriter<string> = (dir, r) => {
  const b = r.blockIO ?? {};
  const unsupported: string[] = [];
  // With BFQ the weight lives in io.bfq.weight on blkio's scale; otherwise io.weight on its own.
  const bfq = existsSync(join(dir, "io.bfq.weight"));
  if (b.weight !== undefined && b.weight !== 0) {
    if (bfq) writeFile(join(dir, "io.bfq.weight"), String(b.weight));
    else writeFile(join(dir, "io.weight"), `default ${blkioToIoWeight(b.weight)}`);
  }
  for (const d of b.weightDevice ?? []) {
    if (d.weight === undefined) continue;
    if (bfq) writeFile(join(dir, "io.bfq.weight"), `${d.major}:${d.minor} ${d.weight}`);
    else writeFile(join(dir, "io.weight"), `${d.major}:${d.minor} ${blkioToIoWeight(d.weight)}`);
  }
  if (b.leafWeight !== undefined || (b.weightDevice ?? []).some((d) => d.leafWeight !== undefined)) {
    unsupported.push("blockIO.leafWeight");
  }
  const throttles = [
    ["throttleReadBpsDevice", "rbps"],
    ["throttleWriteBpsDevice", "wbps"],
    ["throttleReadIOPSDevice", "riops"],
    ["throttleWriteIOPSDevice", "wiops"],
  ] as const;
  for (const [field, key] of throttles) {
    for (const d of b[field] ?? []) writeFile(join(dir, "io.max"), `${d.major}:${d.minor} ${key}=${d.rate}`);
  }
  return unsupported;
};

const rdma: ResourceWriter<string> = (dir, r) => {
  for (const [device, l] of Object.entries(r.rdma ?? {})) {
    const parts = [device];
    if (l.hcaHandles !== undefined) parts.push(`hca_handle=${l.hcaHandles}`);
    if (l.hcaObjects !== undefined) parts.push(`hca_object=${l.hcaObjects}`);
    if (parts.length > 1) writeFile(join(dir, "rdma.max"), parts.join(" "));
  }
  return [];
};

// v2 has no devices files: the policy is a BPF_PROG_TYPE_CGROUP_DEVICE program generated from
// the spec's rules plus the default devices (as on v1), replacing any program attached before.
const devices: ResourceWriter<string> = (dir, r) => {
  const program = deviceProgram([...(r.devices ?? []), ...DEFAULT_ALLOWED_DEVICES]);
  nativeCgroup().cgroupBpfReplace(dir, encodeProgram(program));
  return [];
};

// network has no v2 controller (it is done with BPF or net_cls elsewhere).
const V2_WRITERS: Partial<Record<keyof LinuxResources, ResourceWriter<string>>> = {
  devices,
  pids,
  memory,
  cpu,
  hugepageLimits,
  blockIO,
  rdma,
  unified,
};
