// The v2 backend on a cgroup2 subtree of this machine (/sys/fs/cgroup/unified). That hierarchy
// has no controllers here (they are all bound to v1), so placement, freeze, cgroup.kill and
// removal are tested on the kernel; the limit writers are tested on a plain directory below.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type CgroupLayout, CgroupManager } from "../../src/oci/cgroups/index.js";
import { V2Cgroup } from "../../src/oci/cgroups/v2.js";

const UNIFIED = "/sys/fs/cgroup/unified";
const V2: CgroupLayout = { mode: "v2", v1: [], unified: { mountpoint: UNIFIED, root: "/" } };

const managers: (() => Promise<void>)[] = [];
const children: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of [...managers, ...children]) await c();
});

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env });
  children.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited(child);
    }
  });
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

let n = 0;
function manager(): { mgr: CgroupManager; top: string; dir: string } {
  const top = `/tsshim-test-v2-${process.pid}-${n++}`;
  const mgr = new CgroupManager({
    cgroupsPath: `${top}/c`,
    id: "unused",
    layout: V2,
    own: new Map([["", "/"]]),
  });
  managers.push(async () => {
    await mgr.kill("SIGKILL").catch(() => {});
    await mgr.destroy().catch(() => {});
  });
  return { mgr, top, dir: `${UNIFIED}${top}/c` };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("cgroup v2 backend on a cgroup2 subtree", () => {
  it("places a process, freezes it (frozen 1 in cgroup.events), thaws, kills with cgroup.kill", async () => {
    const { mgr, top, dir } = manager();
    mgr.create();
    assert.equal(mgr.mode, "v2");
    assert.equal(mgr.unifiedDir(), dir);
    assert.deepEqual(mgr.procsPaths(), [`${dir}/cgroup.procs`]);

    const counter = start("sh", ["-c", "read go; i=0; while :; do i=$((i+1)); echo $i; done"]);
    mgr.enter(counter.pid!);
    assert.match(readFileSync(`/proc/${counter.pid}/cgroup`, "utf8"), new RegExp(`^0::${top}/c$`, "m"));
    assert.deepEqual(mgr.pids(), [counter.pid]);
    let lines = 0;
    counter.stdout!.on("data", (b: Buffer) => {
      lines += b.toString().split("\n").length - 1;
    });
    counter.stdin!.write("go\n");
    await wait(50);
    assert.ok(lines > 0);

    await mgr.freeze();
    assert.equal(mgr.state(), "frozen");
    assert.match(readFileSync(`${dir}/cgroup.events`, "utf8"), /^frozen 1$/m);
    await wait(50);
    const frozenAt = lines;
    await wait(150);
    assert.equal(lines, frozenAt, "no output while frozen");
    await mgr.thaw();
    assert.equal(mgr.state(), "thawed");
    await wait(100);
    assert.ok(lines > frozenAt, "output resumes");

    // cgroup.kill works on a frozen v2 cgroup.
    await mgr.freeze();
    await mgr.kill("SIGKILL");
    assert.equal((await exited(counter)).signal, "SIGKILL");
    assert.deepEqual(mgr.pids(), []);
    await mgr.destroy();
    assert.equal(existsSync(`${UNIFIED}${top}`), false, "parent made by create() is removed too");
  });

  it("signals every process for other signals", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const parent = start("sh", ["-c", "read go; sleep 1000 & sleep 1000 & wait"]);
    mgr.enter(parent.pid!);
    parent.stdin!.write("go\n");
    for (let i = 0; i < 100 && mgr.pids().length < 3; i++) await wait(10);
    assert.equal(mgr.pids().length, 3);
    await mgr.kill("SIGTERM");
    assert.equal((await exited(parent)).signal, "SIGTERM");
    for (let i = 0; i < 200 && mgr.pids().length > 0; i++) await wait(10);
    assert.deepEqual(mgr.pids(), []);
    await mgr.destroy();
    assert.equal(existsSync(`${UNIFIED}${top}`), false);
  });

  it("a limit whose controller this hierarchy lacks fails naming the file", () => {
    const { mgr, dir } = manager();
    mgr.create();
    const controllers = readFileSync(`${UNIFIED}/cgroup.controllers`, "utf8").trim();
    if (controllers.includes("pids")) {
      mgr.applyResources({ pids: { limit: 10 } });
      assert.equal(readFileSync(`${dir}/pids.max`, "utf8").trim(), "10");
    } else {
      assert.throws(() => mgr.applyResources({ pids: { limit: 10 } }), {
        name: "CgroupError",
        message: `open "${dir}/pids.max": ENOENT`,
      });
    }
  });

  it("limit writers produce the v2 file values (checked on a plain directory)", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsshim-v2-files-"));
    try {
      for (const f of [
        "pids.max",
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "memory.high",
        "cpu.weight",
      ]) {
        writeFileSync(join(dir, f), "");
      }
      const cg = new V2Cgroup(tmpdir(), dir);
      const report = cg.applyResources({
        pids: { limit: 32 },
        memory: { limit: 256 << 20, reservation: 64 << 20, swap: 384 << 20, swappiness: 10 },
        unified: { "memory.high": "200000000", "cpu.weight": "50" },
        network: { classID: 1 },
      });
      const read = (f: string) => readFileSync(join(dir, f), "utf8");
      assert.equal(read("pids.max"), "32");
      assert.equal(read("memory.max"), String(256 << 20));
      assert.equal(read("memory.low"), String(64 << 20));
      assert.equal(
        read("memory.swap.max"),
        String(128 << 20),
        "OCI swap is memory+swap; v2 wants swap alone",
      );
      assert.equal(read("memory.high"), "200000000");
      assert.equal(read("cpu.weight"), "50");
      assert.deepEqual(report.applied, ["pids", "memory", "unified"]);
      assert.deepEqual(report.unsupported, ["memory.swappiness", "network"]);

      cg.applyResources({ pids: { limit: 0 }, memory: { limit: -1, swap: -1 } });
      assert.equal(read("pids.max"), "max");
      assert.equal(read("memory.max"), "max");
      assert.equal(read("memory.swap.max"), "max");
      assert.throws(() => cg.applyResources({ memory: { limit: 100, swap: 50 } }), {
        message: "linux.resources.memory.swap 50 is below the memory limit 100",
      });
      assert.throws(
        () => cg.applyResources({ unified: { "../cgroup.procs": "1" } }),
        /is not a file of this cgroup/,
      );

      for (const f of ["cpu.weight", "cpu.max", "cpu.max.burst", "cpuset.cpus", "io.weight", "io.max"]) {
        writeFileSync(join(dir, f), "");
      }
      for (const f of ["hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max"])
        writeFileSync(join(dir, f), "");
      const r2 = cg.applyResources({
        cpu: { shares: 1024, quota: 50000, period: 100000, burst: 500, cpus: "0-1", realtimeRuntime: 1000 },
        blockIO: { weight: 500, throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 4096 }] },
        hugepageLimits: [{ pageSize: "2MB", limit: 2097152 }],
        rdma: { mlx5_0: { hcaHandles: 2, hcaObjects: 100 } },
      });
      assert.equal(read("cpu.weight"), "39", "shares 1024 → weight 39 (runc's mapping)");
      assert.equal(read("cpu.max"), "50000 100000");
      assert.equal(read("cpu.max.burst"), "500");
      assert.equal(read("cpuset.cpus"), "0-1");
      assert.equal(read("io.weight"), "default 4950", "blkio 500 → io.weight 4950");
      assert.equal(read("io.max"), "8:0 wbps=4096");
      assert.equal(read("hugetlb.2MB.max"), "2097152");
      assert.equal(read("hugetlb.2MB.rsvd.max"), "2097152");
      assert.equal(read("rdma.max"), "mlx5_0 hca_handle=2 hca_object=100");
      assert.deepEqual(r2.unsupported, ["cpu.realtimePeriod/realtimeRuntime"]);
      cg.applyResources({ cpu: { quota: -1, period: 50000 } });
      assert.equal(read("cpu.max"), "max 50000");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
