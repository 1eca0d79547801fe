// cgroup mounts inside the container: on this hybrid host the v1 layout runc creates (a tmpfs
// with one directory per hierarchy, each showing only the container's own cgroup) and a
// cgroup2 mount that, in a new cgroup namespace, shows the container's cgroup as its root.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import type { CgroupPlacement } from "../../src/oci/container.js";
import { readRootfsHost } from "../../src/oci/rootfs-plan.js";
import type { Spec } from "../../src/oci/spec.js";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";
import { hostMountsMentioning, mountAt, parseMountinfo } from "./rootfs-fixture.js";

const ROOT = "/sys/fs/cgroup";
const UNIFIED = join(ROOT, "unified");
const V1 = ["memory", "pids"];

// A cgroup for one test: v1 directories in memory and pids, a cgroup2 directory under unified.
class TestCgroup implements CgroupPlacement {
  readonly dirs: string[];
  constructor(readonly name: string) {
    this.dirs = [...V1.map((c) => join(ROOT, c, name)), join(UNIFIED, name)];
    for (const d of this.dirs) mkdirSync(d, { recursive: true });
  }
  unifiedDir(): string {
    return join(UNIFIED, this.name);
  }
  enter(pid: number): void {
    for (const c of V1) writeFileSync(join(ROOT, c, this.name, "cgroup.procs"), String(pid));
  }
  async destroy(): Promise<void> {
    for (const d of this.dirs) {
      for (let i = 0; i < 50 && existsSync(d); i++) {
        try {
          rmdirSync(d);
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  }
}

let bundle: Bundle;
let before_: string[];
let seq = 0;
before(() => {
  bundle = makeBundle();
});
after(() => bundle.cleanup());
beforeEach(() => {
  before_ = hostMountsMentioning(bundle.dir);
});
afterEach(() => {
  assert.deepEqual(hostMountsMentioning(bundle.dir), before_, "host mount table unchanged");
});

function cgroupSpec(script: string, cgroupsPath: string, ro: boolean): Spec {
  const spec = defaultSpec(["sh", "-c", script]);
  spec.linux!.cgroupsPath = cgroupsPath;
  spec.mounts!.push({
    destination: "/sys/fs/cgroup",
    type: "cgroup",
    source: "cgroup",
    options: ["nosuid", "noexec", "nodev", "relatime", ...(ro ? ["ro"] : [])],
  });
  return spec;
}

async function withCgroup<T>(fn: (cg: TestCgroup) => Promise<T>): Promise<T> {
  const cg = new TestCgroup(`tsshim-rootfs-${process.pid}-${seq++}`);
  try {
    return await fn(cg);
  } finally {
    await cg.destroy();
    for (const d of cg.dirs) assert.equal(existsSync(d), false, `${d} removed`);
  }
}

describe("rootfs cgroup mounts", {
  skip: readRootfsHost().cgroupVersion !== 1 ? "needs a v1 host" : false,
}, () => {
  it("v1 without a cgroup namespace: each hierarchy is a bind of the container's own cgroup", async () => {
    await withCgroup(async (cg) => {
      const spec = cgroupSpec(
        "ls /sys/fs/cgroup; echo procs=$(cat /sys/fs/cgroup/memory/cgroup.procs); cat /proc/self/mountinfo; touch /sys/fs/cgroup/x 2>&1; true",
        `/${cg.name}`,
        true,
      );
      const r = await runContainer(bundle, spec, { cgroup: cg });
      assert.equal(r.status.code, 0, r.stderr);
      // Only the container's own process (pid 1 in its pid namespace) is in the cgroup it sees.
      assert.match(r.stdout, /^procs=1(?: [2-9])*$/m);
      const all = parseMountinfo(r.stdout);
      const tmpfs = mountAt(all, "/sys/fs/cgroup")!;
      assert.equal(tmpfs.fstype, "tmpfs");
      assert.ok(tmpfs.opts.includes("ro"), "the cgroup tmpfs is read-only once populated");
      for (const c of V1) {
        const m = mountAt(all, `/sys/fs/cgroup/${c}`)!;
        assert.equal(m.fstype, "cgroup");
        assert.equal(m.root, `/${cg.name}`, `${c} shows only the container's cgroup`);
        for (const o of ["ro", "nosuid", "nodev", "noexec"]) assert.ok(m.opts.includes(o), `${c} ${o}`);
      }
      // Hierarchies the container has no directory in are left out rather than failing.
      assert.equal(mountAt(all, "/sys/fs/cgroup/cpuset"), undefined);
      assert.match(r.stdout, /Read-only file system/);
    });
  });

  it("v1 in a new cgroup namespace: still the container's own cgroup in each hierarchy", async () => {
    await withCgroup(async (cg) => {
      const spec = cgroupSpec(
        "echo procs=$(cat /sys/fs/cgroup/memory/cgroup.procs); cat /proc/self/mountinfo",
        `/${cg.name}`,
        false,
      );
      spec.linux!.namespaces!.push({ type: "cgroup" });
      const r = await runContainer(bundle, spec, { cgroup: cg });
      assert.equal(r.status.code, 0, r.stderr);
      assert.match(r.stdout, /^procs=1(?: [2-9])*$/m);
      const all = parseMountinfo(r.stdout);
      for (const c of V1) {
        const m = mountAt(all, `/sys/fs/cgroup/${c}`)!;
        assert.equal(m.fstype, "cgroup");
        assert.ok(m.opts.includes("rw"));
      }
    });
  });

  it("v1 in user and cgroup namespaces: binds, since cgroup v1 cannot be mounted there", async () => {
    await withCgroup(async (cg) => {
      chmodSync(bundle.dir, 0o755);
      const spec = cgroupSpec(
        "echo procs=$(cat /sys/fs/cgroup/pids/cgroup.procs); cat /proc/self/mountinfo",
        `/${cg.name}`,
        false,
      );
      spec.linux!.namespaces!.push({ type: "cgroup" }, { type: "user" });
      spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      const r = await runContainer(bundle, spec, { cgroup: cg });
      assert.equal(r.status.code, 0, r.stderr);
      assert.match(r.stdout, /^procs=1(?: [2-9])*$/m);
      const m = mountAt(parseMountinfo(r.stdout), "/sys/fs/cgroup/pids")!;
      assert.equal(m.fstype, "cgroup");
    });
  });

  it("cgroup2 in a new cgroup namespace shows the container's cgroup as its root", async () => {
    await withCgroup(async (cg) => {
      const spec = defaultSpec([
        "sh",
        "-c",
        "grep '^0::' /proc/self/cgroup; echo procs=$(cat /sys/fs/cgroup/cgroup.procs); cat /proc/self/mountinfo",
      ]);
      spec.linux!.namespaces!.push({ type: "cgroup" });
      spec.mounts!.push({
        destination: "/sys/fs/cgroup",
        type: "cgroup2",
        source: "cgroup2",
        options: ["nosuid", "noexec", "nodev"],
      });
      const r = await runContainer(bundle, spec, { cgroup: cg });
      assert.equal(r.status.code, 0, r.stderr);
      assert.match(r.stdout, /^0::\/$/m);
      assert.match(r.stdout, /^procs=1(?: [2-9])*$/m);
      const m = mountAt(parseMountinfo(r.stdout), "/sys/fs/cgroup")!;
      assert.equal(m.fstype, "cgroup2");
      assert.equal(m.root, "/");
    });
  });

  it("cgroup2 in a user namespace without a cgroup namespace binds the container's own cgroup2 directory", async () => {
    await withCgroup(async (cg) => {
      chmodSync(bundle.dir, 0o755);
      const spec = defaultSpec([
        "sh",
        "-c",
        "echo procs=$(cat /sys/fs/cgroup/cgroup.procs); cat /proc/self/mountinfo",
      ]);
      spec.linux!.cgroupsPath = `/${cg.name}`;
      spec.linux!.namespaces!.push({ type: "user" });
      spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      spec.mounts!.push({
        destination: "/sys/fs/cgroup",
        type: "cgroup2",
        source: "cgroup2",
        options: ["nosuid", "noexec", "nodev", "ro"],
      });
      const r = await runContainer(bundle, spec, { cgroup: cg });
      assert.equal(r.status.code, 0, r.stderr);
      assert.match(r.stdout, /^procs=1(?: [2-9])*$/m);
      const m = mountAt(parseMountinfo(r.stdout), "/sys/fs/cgroup")!;
      assert.equal(m.fstype, "cgroup2");
      assert.equal(m.root, `/${cg.name}`);
      for (const o of ["ro", "nosuid", "nodev", "noexec"]) assert.ok(m.opts.includes(o), o);
    });
  });
});
