// The cgroup manager against this machine's real cgroupfs (hybrid: v1 controllers + cgroup2 at
// /sys/fs/cgroup/unified). Each test makes its own /tsshim-test-* tree and removes it.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type CgroupLayout, CgroupManager, detectLayout } from "../../src/oci/cgroups/index.js";

const layout = detectLayout();
// Managers are cleaned first: their kill thaws a frozen cgroup, so the children can then exit.
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
function manager(sub = "c", forced?: CgroupLayout): { mgr: CgroupManager; top: string } {
  const top = `/tsshim-test-${process.pid}-${n++}`;
  const opts = { cgroupsPath: `${top}/${sub}`, id: "unused" };
  const mgr = new CgroupManager(forced ? { ...opts, layout: forced } : opts);
  managers.push(async () => {
    await mgr.kill("SIGKILL").catch(() => {});
    await mgr.destroy().catch(() => {});
  });
  return { mgr, top };
}

/** The cgroup of pid per hierarchy, as /proc/<pid>/cgroup reports it. */
function cgroupsOf(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n")) {
    const [, ctrls, path] = line.split(":") as [string, string, string];
    m.set(ctrls, path);
  }
  return m;
}

function allTopDirs(top: string): string[] {
  const roots = layout.v1.map((h) => h.mountpoint);
  if (layout.unified) roots.push(layout.unified.mountpoint);
  return roots.map((r) => join(r, top)).filter((d) => existsSync(d));
}

describe("cgroup manager on this host", () => {
  it("detects the host layout from mountinfo", () => {
    assert.equal(layout.mode, "hybrid");
    assert.equal(layout.unified?.mountpoint, "/sys/fs/cgroup/unified");
    const ctrls = layout.v1.flatMap((h) => h.controllers);
    for (const c of ["memory", "pids", "freezer", "cpu", "cpuset", "name=systemd"])
      assert.ok(ctrls.includes(c), c);
  });

  it("creates, places a process in every hierarchy, lists it, and leaves nothing after destroy", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const sleeper = start("sleep", ["1000"]);
    const pid = sleeper.pid!;
    mgr.enter(pid);

    const where = cgroupsOf(pid);
    for (const h of layout.v1)
      assert.equal(where.get(h.controllers.join(",")), `${top}/c`, h.controllers.join(","));
    assert.equal(where.get(""), `${top}/c`, "unified placement");
    assert.equal(mgr.unifiedDir(), `/sys/fs/cgroup/unified${top}/c`);
    assert.equal(mgr.procsPaths().length, layout.v1.length + 1);
    assert.deepEqual(mgr.pids(), [pid]);
    assert.equal(mgr.state(), "thawed");

    await mgr.kill("SIGKILL");
    assert.equal((await exited(sleeper)).signal, "SIGKILL");
    assert.deepEqual(mgr.pids(), []);
    await mgr.destroy();
    assert.deepEqual(allTopDirs(top), [], "no directory left in any hierarchy");
    assert.equal(mgr.state(), "absent");
  });

  it("freezes until FROZEN (a writer stops), thaws, and kills a frozen cgroup", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const counter = start("sh", ["-c", "read go; i=0; while :; do i=$((i+1)); echo $i; done"]);
    mgr.enter(counter.pid!);
    let lines = 0;
    counter.stdout!.on("data", (b: Buffer) => {
      lines += b.toString().split("\n").length - 1;
    });
    counter.stdin!.write("go\n");
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(lines > 0, "counter runs");

    await mgr.freeze();
    assert.equal(mgr.state(), "frozen");
    assert.equal(readFileSync(`/sys/fs/cgroup/freezer${top}/c/freezer.state`, "utf8").trim(), "FROZEN");
    await new Promise((r) => setTimeout(r, 50)); // let the pipe drain
    const frozenAt = lines;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(lines, frozenAt, "no output while frozen");

    await mgr.thaw();
    assert.equal(mgr.state(), "thawed");
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(lines > frozenAt, "output resumes after thaw");

    await mgr.freeze();
    await mgr.kill("SIGKILL");
    assert.equal((await exited(counter)).signal, "SIGKILL");
    assert.equal(mgr.state(), "thawed");
    await mgr.destroy();
    assert.deepEqual(allTopDirs(top), []);
  });

  it("kill(SIGTERM) reaches every process, including children", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const parent = start("sh", ["-c", "read go; sleep 1000 & sleep 1000 & wait"]);
    mgr.enter(parent.pid!);
    parent.stdin!.write("go\n");
    for (let i = 0; i < 100 && mgr.pids().length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(mgr.pids().length, 3, "sh and two sleeps");
    await mgr.kill("SIGTERM");
    assert.equal((await exited(parent)).signal, "SIGTERM");
    for (let i = 0; i < 200 && mgr.pids().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(mgr.pids(), [], "the sleeps got SIGTERM too");
    await mgr.destroy();
    assert.deepEqual(allTopDirs(top), []);
  });

  it("applyResources: pids.max stops a fork loop; memory limit reads back", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const report = mgr.applyResources({
      pids: { limit: 4 },
      memory: { limit: 64 * 1024 * 1024, reservation: 32 * 1024 * 1024 },
      network: { classID: 1 },
    });
    assert.deepEqual(report.applied, ["pids", "memory"]);
    // This host mounts no net_cls hierarchy, so the network section cannot be applied.
    assert.deepEqual(report.unsupported, ["network (no net_cls controller)"]);
    assert.equal(readFileSync(`/sys/fs/cgroup/pids${top}/c/pids.max`, "utf8").trim(), "4");
    assert.equal(
      readFileSync(`/sys/fs/cgroup/memory${top}/c/memory.limit_in_bytes`, "utf8").trim(),
      "67108864",
    );
    assert.equal(
      readFileSync(`/sys/fs/cgroup/memory${top}/c/memory.soft_limit_in_bytes`, "utf8").trim(),
      "33554432",
    );

    // sh + 3 sleeps fill the limit of 4; the remaining forks fail with EAGAIN.
    const forker = start("sh", ["-c", "read go; for i in 1 2 3 4 5 6 7 8; do sleep 1000 & done; echo done"]);
    mgr.enter(forker.pid!);
    let stderr = "";
    forker.stderr!.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    forker.stdin!.write("go\n");
    await exited(forker);
    assert.match(stderr, /fork/i, "the shell reports failed forks");
    assert.ok(mgr.pids().length <= 4, `at most 4 tasks, got ${mgr.pids().length}`);
    assert.ok(Number(readFileSync(`/sys/fs/cgroup/pids${top}/c/pids.events`, "utf8").split(" ")[1]) > 0);

    mgr.applyResources({ pids: { limit: -1 } });
    assert.equal(readFileSync(`/sys/fs/cgroup/pids${top}/c/pids.max`, "utf8").trim(), "max");
    await mgr.kill("SIGKILL");
    await mgr.destroy();
    assert.deepEqual(allTopDirs(top), []);
  });

  it("applyResources: cpu, cpuset, hugetlb and blkio values read back from the v1 files", () => {
    const { mgr, top } = manager();
    mgr.create();
    const read = (ctrl: string, file: string) =>
      readFileSync(`/sys/fs/cgroup/${ctrl}${top}/c/${file}`, "utf8").trim();
    // Per-device weights need the device on the BFQ scheduler (vda here is mq-deadline: the
    // kernel answers ENOTSUP), so only the cgroup-wide weight is checked.
    const report = mgr.applyResources({
      cpu: { shares: 512, quota: 50000, period: 100000, burst: 1000, cpus: "0", mems: "0" },
      hugepageLimits: [{ pageSize: "2MB", limit: 4 << 21 }],
      blockIO: {
        weight: 300,
        throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }],
        throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }],
      },
    });
    assert.deepEqual(report, { applied: ["cpu", "hugepageLimits", "blockIO"], unsupported: [] });
    assert.equal(read("cpu", "cpu.shares"), "512");
    assert.equal(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert.equal(read("cpu", "cpu.cfs_period_us"), "100000");
    assert.equal(read("cpu", "cpu.cfs_burst_us"), "1000");
    assert.equal(read("cpuset", "cpuset.cpus"), "0");
    assert.equal(read("cpuset", "cpuset.mems"), "0");
    assert.equal(read("hugetlb", "hugetlb.2MB.limit_in_bytes"), String(4 << 21));
    assert.equal(read("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes"), String(4 << 21));
    assert.match(read("blkio", "blkio.bfq.weight"), /^default 300$|^300$/);
    assert.equal(read("blkio", "blkio.throttle.read_bps_device"), "254:0 1048576");
    assert.equal(read("blkio", "blkio.throttle.write_iops_device"), "254:0 100");
    // Lifting the quota again (an Update) writes -1.
    mgr.applyResources({ cpu: { quota: -1 } });
    assert.equal(read("cpu", "cpu.cfs_quota_us"), "-1");
  });

  it("applyResources: the v1 devices policy denies a device, keeps the default ones", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const report = mgr.applyResources({ devices: [{ allow: false, access: "rwm" }] });
    assert.deepEqual(report, { applied: ["devices"], unsupported: [] });
    const list = readFileSync(`/sys/fs/cgroup/devices${top}/c/devices.list`, "utf8");
    assert.match(list, /^c 1:3 rwm$/m);
    assert.match(list, /^c 136:\* rwm$/m);
    assert.doesNotMatch(list, /^a \*:\* rwm$/m);

    // /dev/zero is a default device; the host's disk (/dev/vda here) is not.
    const disk = ["/dev/vda", "/dev/sda", "/dev/nvme0n1"].find((d) => existsSync(d)) ?? "/dev/vda";
    const probe = start("sh", [
      "-c",
      `read go; head -c1 /dev/zero >/dev/null && echo zero-ok; head -c1 ${disk} >/dev/null`,
    ]);
    mgr.enter(probe.pid!);
    let out = "";
    let err = "";
    probe.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
    });
    probe.stderr!.on("data", (b: Buffer) => {
      err += b.toString();
    });
    probe.stdin!.write("go\n");
    // "close" comes after the exit and after the pipes are drained.
    const code = await new Promise<number | null>((resolve) => probe.once("close", (c) => resolve(c)));
    assert.equal(out.trim(), "zero-ok");
    assert.notEqual(code, 0);
    assert.match(err, /Operation not permitted/);
  });

  it("a controller the host does not mount is reported, not fatal", () => {
    const top = `/tsshim-test-${process.pid}-${n++}`;
    const noHugetlb: CgroupLayout = {
      mode: "v1",
      v1: layout.v1.filter((h) => !h.controllers.includes("hugetlb")),
    };
    const mgr = new CgroupManager({ cgroupsPath: `${top}/c`, id: "unused", layout: noHugetlb });
    managers.push(() => mgr.destroy());
    mgr.create();
    const report = mgr.applyResources({
      pids: { limit: 5 },
      hugepageLimits: [{ pageSize: "2MB", limit: 0 }],
    });
    assert.deepEqual(report, { applied: ["pids"], unsupported: ["hugepageLimits (no hugetlb controller)"] });
  });

  it("v1 memory swap limit is ordered against the memory limit", () => {
    const { mgr, top } = manager();
    mgr.create();
    const dir = `/sys/fs/cgroup/memory${top}/c`;
    if (!existsSync(join(dir, "memory.memsw.limit_in_bytes"))) return; // kernel without swap accounting
    mgr.applyResources({ memory: { limit: 64 << 20, swap: 128 << 20 } });
    assert.equal(readFileSync(join(dir, "memory.memsw.limit_in_bytes"), "utf8").trim(), String(128 << 20));
    mgr.applyResources({ memory: { limit: 16 << 20, swap: 32 << 20 } });
    assert.equal(readFileSync(join(dir, "memory.limit_in_bytes"), "utf8").trim(), String(16 << 20));
    assert.equal(readFileSync(join(dir, "memory.memsw.limit_in_bytes"), "utf8").trim(), String(32 << 20));
  });

  it("v1 without cgroup.kill: SIGKILL signals every pid until the cgroup is empty", async () => {
    const { mgr, top } = manager("c", { mode: "v1", v1: layout.v1 });
    mgr.create();
    assert.equal(mgr.unifiedDir(), undefined);
    assert.equal(existsSync(`/sys/fs/cgroup/unified${top}`), false, "pure v1 makes no unified dir");
    const parent = start("sh", ["-c", "read go; sleep 1000 & sleep 1000 & wait"]);
    mgr.enter(parent.pid!);
    parent.stdin!.write("go\n");
    for (let i = 0; i < 100 && mgr.pids().length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(mgr.pids().length, 3);
    await mgr.kill("SIGKILL");
    assert.deepEqual(mgr.pids(), []);
    assert.equal((await exited(parent)).signal, "SIGKILL");
    await mgr.destroy();
    assert.deepEqual(allTopDirs(top), []);
  });

  it("kill, state and destroy of a cgroup that does not exist are quiet", async () => {
    const { mgr } = manager();
    assert.equal(mgr.state(), "absent");
    await mgr.kill("SIGKILL");
    await mgr.kill("SIGTERM");
    await mgr.destroy();
    assert.deepEqual(mgr.pids(), []);
  });

  it("destroy waits for exiting tasks, and names the busy directory when they stay", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const sleeper = start("sleep", ["1000"]);
    mgr.enter(sleeper.pid!);
    await assert.rejects(mgr.destroy(200), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`^rmdir ".*${top}/c": EBUSY: cgroup still holds pids ${sleeper.pid}$`),
      );
      return true;
    });
    // Killed without waiting: destroy retries while the task drains.
    sleeper.kill("SIGKILL");
    await mgr.destroy();
    assert.deepEqual(allTopDirs(top), []);
  });

  it("lists and kills processes in sub-cgroups the container made", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const { mkdirSync } = await import("node:fs");
    const v1Inner = `/sys/fs/cgroup/pids${top}/c/inner`;
    mkdirSync(v1Inner);
    mkdirSync(`/sys/fs/cgroup/unified${top}/c/inner`);
    const outer = start("sleep", ["1000"]);
    const inner = start("sleep", ["1000"]);
    mgr.enter(outer.pid!);
    mgr.enter(inner.pid!);
    writeFileSync(`${v1Inner}/cgroup.procs`, String(inner.pid));
    writeFileSync(`/sys/fs/cgroup/unified${top}/c/inner/cgroup.procs`, String(inner.pid));
    assert.deepEqual(
      mgr.pids().sort((a, b) => a - b),
      [outer.pid!, inner.pid!].sort((a, b) => a - b),
    );
    await mgr.kill("SIGKILL");
    assert.equal((await exited(inner)).signal, "SIGKILL");
    await mgr.destroy();
    assert.deepEqual(allTopDirs(top), []);
  });

  it("removes nested cgroups deepest first", async () => {
    const { mgr, top } = manager();
    mgr.create();
    const { mkdirSync } = await import("node:fs");
    mkdirSync(`/sys/fs/cgroup/pids${top}/c/inner/deeper`, { recursive: true });
    mkdirSync(`/sys/fs/cgroup/unified${top}/c/inner`);
    await mgr.destroy();
    assert.deepEqual(allTopDirs(top), []);
  });
});
