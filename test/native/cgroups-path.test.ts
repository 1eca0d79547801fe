// Pure logic of the cgroup manager: layout detection from mountinfo text and cgroupsPath
// resolution (no cgroupfs is touched here).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CgroupManager,
  expandSlice,
  parseCgroupsPath,
  parseLayout,
  parseProcCgroup,
} from "../../src/oci/cgroups/index.js";

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`;
const V1 = HYBRID.split("\n")
  .filter((l) => !l.includes("cgroup2"))
  .join("\n");
const V2 = `25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

describe("cgroup layout detection", () => {
  it("tells v1, hybrid and v2 apart", () => {
    const h = parseLayout(HYBRID);
    assert.equal(h.mode, "hybrid");
    assert.deepEqual(
      h.v1.map((x) => x.controllers),
      [["cpu", "cpuacct"], ["memory"], ["pids"], ["name=systemd"]],
    );
    assert.deepEqual(h.unified, { mountpoint: "/sys/fs/cgroup/unified", root: "/" });
    assert.equal(parseLayout(V1).mode, "v1");
    assert.equal(parseLayout(V1).unified, undefined);
    const v2 = parseLayout(V2);
    assert.equal(v2.mode, "v2");
    assert.deepEqual(v2.v1, []);
    assert.equal(v2.unified?.mountpoint, "/sys/fs/cgroup");
  });

  it("errors when no cgroup filesystem is mounted", () => {
    assert.throws(() => parseLayout("1 0 0:1 / / rw - ext4 /dev/sda rw\n"), /no cgroup hierarchy is mounted/);
  });

  it("reads /proc/<pid>/cgroup", () => {
    const own = parseProcCgroup("4:memory:/a/b\n2:cpu,cpuacct:/x\n1:name=systemd:/s\n0::/u\n");
    assert.equal(own.get("memory"), "/a/b");
    assert.equal(own.get("cpuacct"), "/x");
    assert.equal(own.get("name=systemd"), "/s");
    assert.equal(own.get(""), "/u");
  });
});

describe("cgroupsPath resolution", () => {
  it("absolute, relative and empty paths", () => {
    assert.deepEqual(parseCgroupsPath("/default/abc", "abc"), { kind: "absolute", path: "/default/abc" });
    assert.deepEqual(parseCgroupsPath("//default//abc/", "abc"), { kind: "absolute", path: "/default/abc" });
    assert.deepEqual(parseCgroupsPath("pods/abc", "abc"), { kind: "relative", path: "pods/abc" });
    // runc's cgroupfs driver: no cgroupsPath → the container id under the runtime's own cgroup.
    assert.deepEqual(parseCgroupsPath("", "ctr1"), { kind: "relative", path: "ctr1" });
    assert.deepEqual(parseCgroupsPath(undefined, "ctr1"), { kind: "relative", path: "ctr1" });
    assert.throws(() => parseCgroupsPath("/a/../../etc", "x"), {
      message: 'linux.cgroupsPath "/a/../../etc": must not contain ".."',
    });
    assert.throws(() => parseCgroupsPath("/", "x"), {
      message: 'linux.cgroupsPath "/": must not be the root cgroup',
    });
  });

  it("expands the systemd slice:prefix:name form the way systemd names the unit", () => {
    assert.deepEqual(parseCgroupsPath("kubepods-besteffort-pod1.slice:cri-containerd:abc", "abc"), {
      kind: "systemd",
      path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope",
      slice: "kubepods-besteffort-pod1.slice",
      unit: "cri-containerd-abc.scope",
    });
    assert.equal(parseCgroupsPath(":runc:abc", "abc").path, "/system.slice/runc-abc.scope");
    assert.equal(parseCgroupsPath("-.slice:p:abc", "abc").path, "/p-abc.scope");
    assert.equal(parseCgroupsPath("system.slice::abc", "abc").path, "/system.slice/abc.scope");
    assert.equal(parseCgroupsPath("a.slice:p:a-b.slice", "x").path, "/a.slice/a-b.slice");
    assert.equal(expandSlice("", "a-b-c.slice"), "/a.slice/a-b.slice/a-b-c.slice");
    assert.throws(
      () => parseCgroupsPath("kube--pods.slice:p:abc", "abc"),
      /"kube--pods.slice" is not a systemd slice name/,
    );
    assert.throws(() => parseCgroupsPath("kubepods:p:abc", "abc"), /"kubepods" is not a systemd slice name/);
  });

  it("places each path in every hierarchy (relative paths under the shim's own cgroup)", () => {
    const own = new Map([
      ["cpu", "/shim"],
      ["cpuacct", "/shim"],
      ["memory", "/mem/shim"],
      ["pids", "/shim"],
      ["name=systemd", "/system.slice/x.service"],
      ["", "/u/shim"],
    ]);
    const layout = parseLayout(HYBRID);
    const rel = new CgroupManager({ cgroupsPath: "", id: "ctr1", layout, own });
    assert.deepEqual(rel.dirs(), [
      "/sys/fs/cgroup/cpu,cpuacct/shim/ctr1",
      "/sys/fs/cgroup/memory/mem/shim/ctr1",
      "/sys/fs/cgroup/pids/shim/ctr1",
      "/sys/fs/cgroup/systemd/system.slice/x.service/ctr1",
      "/sys/fs/cgroup/unified/u/shim/ctr1",
    ]);
    assert.equal(rel.unifiedDir(), "/sys/fs/cgroup/unified/u/shim/ctr1");
    const abs = new CgroupManager({ cgroupsPath: "/default/ctr1", id: "ctr1", layout: parseLayout(V2), own });
    assert.deepEqual(abs.dirs(), ["/sys/fs/cgroup/default/ctr1"]);
    assert.deepEqual(abs.procsPaths(), ["/sys/fs/cgroup/default/ctr1/cgroup.procs"]);
    const v1 = new CgroupManager({ cgroupsPath: "/default/ctr1", id: "ctr1", layout: parseLayout(V1), own });
    assert.equal(v1.unifiedDir(), undefined);
  });
});
