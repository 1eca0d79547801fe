// Every v1 linux.resources field reaches its file (checked on plain directories standing in
// for the controllers, so controllers this host does not mount — rdma, net_cls, net_prio — are
// covered too), and a controller that is absent is reported, not fatal.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { V1Cgroup } from "../../src/oci/cgroups/v1.js";

const root = mkdtempSync(join(tmpdir(), "tsshim-v1-writers-"));
after(() => rmSync(root, { recursive: true, force: true }));

const FILES: Record<string, string[]> = {
  memory: [
    "memory.limit_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "memory.swappiness",
    "memory.oom_control",
  ],
  cpu: [
    "cpu.shares",
    "cpu.cfs_period_us",
    "cpu.cfs_quota_us",
    "cpu.cfs_burst_us",
    "cpu.rt_period_us",
    "cpu.rt_runtime_us",
    "cpu.idle",
  ],
  cpuset: ["cpuset.cpus", "cpuset.mems"],
  pids: ["pids.max"],
  rdma: ["rdma.max"],
  net_cls: ["net_cls.classid"],
  net_prio: ["net_prio.ifpriomap"],
};

function backend(controllers: string[]): { cg: V1Cgroup; read: (ctrl: string, f: string) => string } {
  const base = mkdtempSync(join(root, "cg-"));
  const entries = controllers.map((c) => {
    const dir = join(base, c);
    mkdirSync(dir);
    for (const f of FILES[c] ?? [])
      writeFileSync(join(dir, f), f === "memory.memsw.limit_in_bytes" ? "0" : "");
    return { hierarchy: { controllers: [c], mountpoint: base, root: "/" }, dir };
  });
  return { cg: new V1Cgroup(entries), read: (ctrl, f) => readFileSync(join(base, ctrl, f), "utf8") };
}

it("memory: limit, reservation, swap (memsw first when it grows), swappiness, disableOOMKiller", () => {
  const { cg, read } = backend(["memory"]);
  const report = cg.applyResources({
    memory: { limit: 1 << 26, reservation: 1 << 25, swap: 1 << 27, swappiness: 10, disableOOMKiller: true },
  });
  assert.deepEqual(report, { applied: ["memory"], unsupported: [] });
  assert.equal(read("memory", "memory.limit_in_bytes"), String(1 << 26));
  assert.equal(read("memory", "memory.soft_limit_in_bytes"), String(1 << 25));
  assert.equal(read("memory", "memory.memsw.limit_in_bytes"), String(1 << 27));
  assert.equal(read("memory", "memory.swappiness"), "10");
  assert.equal(read("memory", "memory.oom_control"), "1");
});

it("cpu: shares, quota/period, burst, realtime, idle, cpuset cpus/mems", () => {
  const { cg, read } = backend(["cpu", "cpuset"]);
  const report = cg.applyResources({
    cpu: {
      shares: 512,
      quota: 20000,
      period: 100000,
      burst: 5000,
      realtimePeriod: 1000000,
      realtimeRuntime: 950000,
      idle: 1,
      cpus: "0",
      mems: "0",
    },
  });
  assert.deepEqual(report.unsupported, []);
  for (const [f, v] of [
    ["cpu.shares", "512"],
    ["cpu.cfs_quota_us", "20000"],
    ["cpu.cfs_period_us", "100000"],
    ["cpu.cfs_burst_us", "5000"],
    ["cpu.rt_period_us", "1000000"],
    ["cpu.rt_runtime_us", "950000"],
    ["cpu.idle", "1"],
  ] as const) {
    assert.equal(read("cpu", f), v, f);
  }
  assert.equal(read("cpuset", "cpuset.cpus"), "0");
  assert.equal(read("cpuset", "cpuset.mems"), "0");
});

it("rdma and network (net_cls classid, net_prio per-interface priority)", () => {
  const { cg, read } = backend(["rdma", "net_cls", "net_prio"]);
  const report = cg.applyResources({
    rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
    network: { classID: 1048577, priorities: [{ name: "eth0", priority: 5 }] },
  });
  assert.deepEqual(report, { applied: ["rdma", "network"], unsupported: [] });
  assert.equal(read("rdma", "rdma.max"), "mlx5_1 hca_handle=3 hca_object=10000");
  assert.equal(read("net_cls", "net_cls.classid"), "1048577");
  assert.equal(read("net_prio", "net_prio.ifpriomap"), "eth0 5");
});

it("a controller that is not mounted is reported unsupported", () => {
  const { cg } = backend(["pids"]);
  const report = cg.applyResources({ pids: { limit: 5 }, rdma: { mlx5_1: { hcaHandles: 1 } } });
  assert.deepEqual(report.applied, ["pids"]);
  assert.ok(
    report.unsupported.some((u) => u.includes("rdma")),
    JSON.stringify(report),
  );
});
