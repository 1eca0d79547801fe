import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  bindRemountFlags,
  MOUNT_ATTR,
  MountOptionError,
  MS,
  parseMountOptions,
} from "../../src/oci/mount-options.js";
import {
  buildRootfsPlan,
  parseRootfsHost,
  type RootfsHost,
  RootfsPlanError,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
} from "../../src/oci/rootfs-plan.js";
import type { Spec } from "../../src/oci/spec.js";

const V1_HOST: RootfsHost = {
  cgroupVersion: 1,
  cgroupRoot: "/sys/fs/cgroup",
  cgroupV1: [
    { dir: "cpu,cpuacct", options: "cpu,cpuacct" },
    { dir: "memory", options: "memory" },
    { dir: "systemd", options: "name=systemd" },
  ],
  cgroup2Root: "/sys/fs/cgroup/unified",
};
const V2_HOST: RootfsHost = {
  cgroupVersion: 2,
  cgroupRoot: "/sys/fs/cgroup",
  cgroupV1: [],
  cgroup2Root: "/sys/fs/cgroup",
};

function spec(extra: Partial<Spec> = {}): Spec {
  return { ociVersion: "1.2.0", root: { path: "rootfs" }, ...extra };
}

describe("parseMountOptions: every option to its flag", () => {
  // [option, flags set when alone]
  const setters: Array<[string, number]> = [
    ["ro", MS.RDONLY],
    ["nosuid", MS.NOSUID],
    ["nodev", MS.NODEV],
    ["noexec", MS.NOEXEC],
    ["sync", MS.SYNCHRONOUS],
    ["dirsync", MS.DIRSYNC],
    ["remount", MS.REMOUNT],
    ["mand", MS.MANDLOCK],
    ["noatime", MS.NOATIME],
    ["nodiratime", MS.NODIRATIME],
    ["relatime", MS.RELATIME],
    ["strictatime", MS.STRICTATIME],
    ["lazytime", MS.LAZYTIME],
    ["iversion", MS.I_VERSION],
    ["silent", MS.SILENT],
    ["nosymfollow", MS.NOSYMFOLLOW],
    ["bind", MS.BIND],
    ["rbind", MS.BIND | MS.REC],
  ];
  for (const [opt, flag] of setters) {
    it(`${opt} sets 0x${flag.toString(16)}`, () => {
      const p = parseMountOptions([opt]);
      assert.equal(p.flags, flag);
      assert.equal(p.data, "");
      assert.equal(p.propagation, 0);
    });
  }

  // [clearing option, what it clears]
  const clearers: Array<[string, number]> = [
    ["rw", MS.RDONLY],
    ["suid", MS.NOSUID],
    ["dev", MS.NODEV],
    ["exec", MS.NOEXEC],
    ["async", MS.SYNCHRONOUS],
    ["nomand", MS.MANDLOCK],
    ["atime", MS.NOATIME],
    ["diratime", MS.NODIRATIME],
    ["norelatime", MS.RELATIME],
    ["nostrictatime", MS.STRICTATIME],
    ["nolazytime", MS.LAZYTIME],
    ["noiversion", MS.I_VERSION],
    ["loud", MS.SILENT],
    ["symfollow", MS.NOSYMFOLLOW],
  ];
  for (const [opt, flag] of clearers) {
    it(`${opt} clears 0x${flag.toString(16)} set before it`, () => {
      assert.equal(parseMountOptions([opt]).flags, 0);
      const everything = 0x7fffffff;
      // Set every flag through "ro,nosuid,..." is awkward; check order semantics on the one flag.
      const setter = setters.find(([, f]) => f === flag);
      assert.ok(setter, `a setter exists for ${opt}`);
      assert.equal(parseMountOptions([setter[0], opt]).flags & everything, 0);
      assert.equal(parseMountOptions([opt, setter[0]]).flags, flag);
    });
  }

  it("defaults is a no-op", () => {
    assert.deepEqual(parseMountOptions(["defaults"]), {
      flags: 0,
      propagation: 0,
      attrSet: 0,
      attrClr: 0,
      data: "",
      bind: false,
      copyUp: false,
    });
  });

  const props: Array<[string, number]> = [
    ["private", MS.PRIVATE],
    ["rprivate", MS.PRIVATE | MS.REC],
    ["shared", MS.SHARED],
    ["rshared", MS.SHARED | MS.REC],
    ["slave", MS.SLAVE],
    ["rslave", MS.SLAVE | MS.REC],
    ["unbindable", MS.UNBINDABLE],
    ["runbindable", MS.UNBINDABLE | MS.REC],
  ];
  for (const [opt, flag] of props) {
    it(`${opt} is propagation 0x${flag.toString(16)}, not a mount flag`, () => {
      const p = parseMountOptions([opt]);
      assert.equal(p.propagation, flag);
      assert.equal(p.flags, 0);
    });
  }
  it("the last propagation option wins", () => {
    assert.equal(parseMountOptions(["rshared", "rslave"]).propagation, MS.SLAVE | MS.REC);
  });

  const recursive: Array<[string, number, number]> = [
    ["rro", MOUNT_ATTR.RDONLY, 0],
    ["rrw", 0, MOUNT_ATTR.RDONLY],
    ["rnosuid", MOUNT_ATTR.NOSUID, 0],
    ["rsuid", 0, MOUNT_ATTR.NOSUID],
    ["rnodev", MOUNT_ATTR.NODEV, 0],
    ["rdev", 0, MOUNT_ATTR.NODEV],
    ["rnoexec", MOUNT_ATTR.NOEXEC, 0],
    ["rexec", 0, MOUNT_ATTR.NOEXEC],
    ["rnodiratime", MOUNT_ATTR.NODIRATIME, 0],
    ["rdiratime", 0, MOUNT_ATTR.NODIRATIME],
    ["rnosymfollow", MOUNT_ATTR.NOSYMFOLLOW, 0],
    ["rsymfollow", 0, MOUNT_ATTR.NOSYMFOLLOW],
    ["rrelatime", MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME_MASK],
    ["rnorelatime", MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME_MASK],
    ["ratime", MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME_MASK],
    ["rnoatime", MOUNT_ATTR.NOATIME, MOUNT_ATTR.ATIME_MASK],
    ["rstrictatime", MOUNT_ATTR.STRICTATIME, MOUNT_ATTR.ATIME_MASK],
    ["rnostrictatime", MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME_MASK],
  ];
  for (const [opt, set, clr] of recursive) {
    it(`${opt} is mount_setattr set=0x${set.toString(16)} clr=0x${clr.toString(16)}`, () => {
      const p = parseMountOptions([opt]);
      assert.equal(p.attrSet, set);
      assert.equal(p.attrClr, clr);
      assert.equal(p.flags, 0);
      assert.equal(p.data, "");
    });
  }
  it("recursive options combine and later ones override", () => {
    const p = parseMountOptions(["rro", "rnosuid", "rnoatime", "rstrictatime", "rrw"]);
    assert.equal(p.attrSet, MOUNT_ATTR.NOSUID | MOUNT_ATTR.STRICTATIME);
    assert.equal(p.attrClr, MOUNT_ATTR.RDONLY | MOUNT_ATTR.ATIME_MASK);
  });

  it("everything else goes to the data string in order", () => {
    const p = parseMountOptions(["nosuid", "mode=755", "size=65536k", "ro", "newinstance", "ptmxmode=0666"]);
    assert.equal(p.flags, MS.NOSUID | MS.RDONLY);
    assert.equal(p.data, "mode=755,size=65536k,newinstance,ptmxmode=0666");
  });
  it("x- options for mount helpers are dropped", () => {
    assert.equal(parseMountOptions(["x-systemd.automount", "uid=1"]).data, "uid=1");
  });

  it("tmpcopyup is a copy-up request, not data", () => {
    const p = parseMountOptions(["tmpcopyup", "mode=755"]);
    assert.equal(p.copyUp, true);
    assert.equal(p.data, "mode=755");
  });
  for (const opt of ["idmap", "ridmap"]) {
    it(`${opt} is rejected with a clear error`, () => {
      assert.throws(
        () => parseMountOptions([opt]),
        (e: unknown) => e instanceof MountOptionError && e.message.startsWith(`mount option "${opt}": `),
      );
    });
  }
  it("an empty option and a comma inside one option are rejected", () => {
    assert.throws(() => parseMountOptions([""]), MountOptionError);
    assert.throws(() => parseMountOptions(["a,b"]), /contains a comma/);
  });

  it("bindRemountFlags keeps per-mount flags only, with MS_REMOUNT|MS_BIND", () => {
    assert.equal(bindRemountFlags(MS.BIND | MS.REC), 0);
    assert.equal(
      bindRemountFlags(MS.BIND | MS.REC | MS.RDONLY | MS.NOSUID),
      MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID,
    );
  });
});

describe("buildRootfsPlan", () => {
  it("resolves the rootfs against the bundle and defaults to rslave, pivot, no userns", () => {
    const p = buildRootfsPlan(spec(), "/run/b1", { host: V1_HOST });
    assert.equal(p.rootfs, "/run/b1/rootfs");
    assert.equal(p.rootPropagation, MS.SLAVE | MS.REC);
    assert.equal(p.readonlyRoot, 0);
    assert.equal(p.noPivot, 0);
    assert.equal(p.userns, 0);
    assert.equal(buildRootfsPlan(spec({ root: { path: "/abs/root" } }), "/run/b1").rootfs, "/abs/root");
  });
  it("maps rootfsPropagation, readonly root, noPivot and a user namespace", () => {
    const p = buildRootfsPlan(
      spec({
        root: { path: "r", readonly: true },
        linux: { rootfsPropagation: "shared", namespaces: [{ type: "user" }, { type: "mount" }] },
      }),
      "/b",
      { noPivot: true, host: V1_HOST },
    );
    assert.equal(p.rootPropagation, MS.SHARED | MS.REC);
    assert.equal(p.readonlyRoot, 1);
    assert.equal(p.noPivot, 1);
    assert.equal(p.userns, 1);
    assert.equal(
      buildRootfsPlan(spec({ linux: { rootfsPropagation: "private" } }), "/b").rootPropagation,
      MS.PRIVATE | MS.REC,
    );
    assert.equal(
      buildRootfsPlan(spec({ linux: { rootfsPropagation: "unbindable" } }), "/b").rootPropagation,
      MS.UNBINDABLE | MS.REC,
    );
  });
  it("requires root.path", () => {
    assert.throws(() => buildRootfsPlan({ ociVersion: "1.2.0" }, "/b"), /root\.path: is required/);
  });

  it("plans a filesystem mount with its flags and data", () => {
    const p = buildRootfsPlan(
      spec({
        mounts: [
          {
            destination: "/dev/pts",
            type: "devpts",
            source: "devpts",
            options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
          },
        ],
      }),
      "/b",
    );
    assert.deepEqual(p.mounts, [
      {
        source: "devpts",
        destination: "/dev/pts",
        fstype: "devpts",
        data: "newinstance,ptmxmode=0666,mode=0620",
        flags: MS.NOSUID | MS.NOEXEC,
        remount: 0,
        propagation: 0,
        attrSet: 0,
        attrClr: 0,
        optional: 0,
        tmpcopyup: 0,
        fallback: "",
      },
    ]);
  });
  it("plans a bind mount: source against the bundle, flags moved to the remount", () => {
    const p = buildRootfsPlan(
      spec({
        mounts: [
          {
            destination: "data",
            type: "bind",
            source: "hostdata",
            options: ["rbind", "ro", "nosuid", "rprivate", "rnoexec"],
          },
        ],
      }),
      "/b",
    );
    assert.deepEqual(p.mounts, [
      {
        source: "/b/hostdata",
        destination: "/data",
        fstype: "",
        data: "",
        flags: MS.BIND | MS.REC,
        remount: MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID,
        propagation: MS.PRIVATE | MS.REC,
        attrSet: MOUNT_ATTR.NOEXEC,
        attrClr: 0,
        optional: 0,
        tmpcopyup: 0,
        fallback: "",
      },
    ]);
  });
  it("type bind without bind options is a plain bind; a bind with nothing else needs no remount", () => {
    const p = buildRootfsPlan(spec({ mounts: [{ destination: "/x", type: "bind", source: "/y" }] }), "/b");
    assert.equal(p.mounts[0]?.flags, MS.BIND);
    assert.equal(p.mounts[0]?.remount, 0);
  });
  it("normalises destinations and refuses a mount over /", () => {
    const p = buildRootfsPlan(
      spec({ mounts: [{ destination: "/a/../b//c/", type: "tmpfs", source: "tmpfs" }] }),
      "/b",
    );
    assert.equal(p.mounts[0]?.destination, "/b/c");
    assert.throws(
      () => buildRootfsPlan(spec({ mounts: [{ destination: "/", type: "tmpfs" }] }), "/b"),
      /mounts\[0\]\.destination: must not be "\/"/,
    );
  });
  it("names the mount and option in errors", () => {
    assert.throws(
      () =>
        buildRootfsPlan(
          spec({
            mounts: [
              { destination: "/proc", type: "proc" },
              { destination: "/t", type: "tmpfs", options: ["idmap"] },
            ],
          }),
          "/b",
        ),
      (e: unknown) =>
        e instanceof RootfsPlanError && e.field === "mounts[1].options" && /"idmap"/.test(e.message),
    );
    assert.throws(
      () =>
        buildRootfsPlan(
          spec({ mounts: [{ destination: "/t", type: "proc", options: ["tmpcopyup"] }] }),
          "/b",
        ),
      /mounts\[0\]\.options: tmpcopyup needs a tmpfs mount/,
    );
    const ok = buildRootfsPlan(
      spec({ mounts: [{ destination: "/t", type: "tmpfs", options: ["tmpcopyup"] }] }),
      "/b",
    );
    assert.equal(ok.mounts[0]?.tmpcopyup, 1);
    assert.equal(ok.mounts[0]?.data, "");
    assert.throws(
      () => buildRootfsPlan(spec({ mounts: [{ destination: "/t" }] }), "/b"),
      /mounts\[0\]\.type: is required/,
    );
  });

  it("refuses mount-level id mappings clearly", () => {
    const m = {
      destination: "/m",
      type: "bind",
      source: "/s",
      options: ["rbind"],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
    };
    assert.throws(
      () => buildRootfsPlan(spec({ mounts: [m] }), "/b"),
      /mounts\[0\]\.uidMappings: id-mapped mounts are not supported/,
    );
  });

  it("creates the default devices, spec devices merged over them, and the /dev symlinks", () => {
    const p = buildRootfsPlan(
      spec({
        mounts: [
          { destination: "/proc", type: "proc", source: "proc" },
          { destination: "/dev", type: "tmpfs", source: "tmpfs" },
        ],
        linux: {
          devices: [
            { type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o600, uid: 1, gid: 2 },
            { type: "b", path: "/dev/loopx", major: 7, minor: 200 },
            { type: "u", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o666 },
            { type: "p", path: "/dev/myfifo" },
          ],
        },
      }),
      "/b",
    );
    const byPath = new Map(p.devices.map((d) => [d.path, d]));
    assert.deepEqual(
      [...byPath.keys()],
      [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
        "/dev/loopx",
        "/dev/fuse",
        "/dev/myfifo",
      ],
    );
    assert.deepEqual(byPath.get("/dev/null"), {
      path: "/dev/null",
      hostPath: "/dev/null",
      type: S_IFCHR,
      major: 1,
      minor: 3,
      mode: 0o600,
      uid: 1,
      gid: 2,
    });
    assert.deepEqual(byPath.get("/dev/tty"), {
      path: "/dev/tty",
      hostPath: "/dev/tty",
      type: S_IFCHR,
      major: 5,
      minor: 0,
      mode: 0o666,
      uid: 0,
      gid: 0,
    });
    assert.equal(byPath.get("/dev/loopx")?.type, S_IFBLK);
    assert.equal(byPath.get("/dev/fuse")?.type, S_IFCHR);
    assert.equal(byPath.get("/dev/myfifo")?.type, S_IFIFO);
    assert.deepEqual(p.symlinks, [
      { path: "/dev/fd", target: "/proc/self/fd" },
      { path: "/dev/stdin", target: "/proc/self/fd/0" },
      { path: "/dev/stdout", target: "/proc/self/fd/1" },
      { path: "/dev/stderr", target: "/proc/self/fd/2" },
      { path: "/dev/core", target: "/proc/kcore" },
      { path: "/dev/ptmx", target: "pts/ptmx" },
    ]);
  });
  it("leaves out /dev/core without a /proc mount and all of /dev when /dev is bound from the host", () => {
    const noProc = buildRootfsPlan(spec(), "/b");
    assert.ok(!noProc.symlinks.some((s) => s.path === "/dev/core"));
    const bound = buildRootfsPlan(
      spec({ mounts: [{ destination: "/dev", type: "bind", source: "/dev", options: ["rbind"] }] }),
      "/b",
    );
    assert.deepEqual(bound.devices, []);
    assert.deepEqual(bound.symlinks, []);
  });
  it("rejects bad devices naming the field", () => {
    assert.throws(
      () => buildRootfsPlan(spec({ linux: { devices: [{ type: "c", path: "/dev/x" }] } }), "/b"),
      /linux\.devices\[0\]: major and minor are required/,
    );
    assert.throws(
      () =>
        buildRootfsPlan(
          spec({ linux: { devices: [{ type: "x" as "c", path: "/dev/x", major: 1, minor: 1 }] } }),
          "/b",
        ),
      /linux\.devices\[0\]\.type: unknown device type "x"/,
    );
  });

  it("expands a cgroup mount on a v1 host into binds of the container's cgroup, with comount links", () => {
    const p = buildRootfsPlan(
      spec({
        mounts: [
          {
            destination: "/sys/fs/cgroup",
            type: "cgroup",
            source: "cgroup",
            options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
          },
        ],
        linux: { cgroupsPath: "/tsshim/c1" },
      }),
      "/b",
      { host: V1_HOST },
    );
    const per = MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME;
    assert.deepEqual(
      p.mounts.map((m) => [m.destination, m.fstype, m.source, m.flags, m.remount, m.data, m.optional]),
      [
        ["/sys/fs/cgroup", "tmpfs", "tmpfs", per, 0, "mode=755", 0],
        [
          "/sys/fs/cgroup/cpu,cpuacct",
          "",
          "/sys/fs/cgroup/cpu,cpuacct/tsshim/c1",
          MS.BIND,
          MS.REMOUNT | MS.BIND | per | MS.RDONLY,
          "",
          1,
        ],
        [
          "/sys/fs/cgroup/memory",
          "",
          "/sys/fs/cgroup/memory/tsshim/c1",
          MS.BIND,
          MS.REMOUNT | MS.BIND | per | MS.RDONLY,
          "",
          1,
        ],
        [
          "/sys/fs/cgroup/systemd",
          "",
          "/sys/fs/cgroup/systemd/tsshim/c1",
          MS.BIND,
          MS.REMOUNT | MS.BIND | per | MS.RDONLY,
          "",
          1,
        ],
      ],
    );
    assert.deepEqual(
      p.symlinks.filter((s) => s.path.startsWith("/sys")),
      [
        { path: "/sys/fs/cgroup/cpu", target: "cpu,cpuacct" },
        { path: "/sys/fs/cgroup/cpuacct", target: "cpu,cpuacct" },
      ],
    );
    assert.deepEqual(p.lateReadonly, ["/sys/fs/cgroup"]);
  });
  it("binds v1 hierarchies in a cgroup namespace too, with or without a user namespace", () => {
    const p = buildRootfsPlan(
      spec({
        mounts: [{ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup" }],
        linux: { namespaces: [{ type: "cgroup" }, { type: "user" }], cgroupsPath: "c2" },
      }),
      "/b",
      { host: V1_HOST },
    );
    const want = [
      ["", "/sys/fs/cgroup/cpu,cpuacct/c2"],
      ["", "/sys/fs/cgroup/memory/c2"],
      ["", "/sys/fs/cgroup/systemd/c2"],
    ];
    assert.deepEqual(
      p.mounts.slice(1).map((m) => [m.fstype, m.source]),
      want,
    );
    const noUser = buildRootfsPlan(
      spec({
        mounts: [{ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup" }],
        linux: { namespaces: [{ type: "cgroup" }], cgroupsPath: "c2" },
      }),
      "/b",
      { host: V1_HOST },
    );
    assert.deepEqual(
      noUser.mounts.slice(1).map((m) => [m.fstype, m.source]),
      want,
    );
  });
  it("makes a cgroup mount one cgroup2 mount on a v2 host", () => {
    const p = buildRootfsPlan(
      spec({
        mounts: [
          { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid"] },
        ],
      }),
      "/b",
      { host: V2_HOST },
    );
    assert.deepEqual(
      p.mounts.map((m) => [m.destination, m.fstype, m.source, m.flags, m.fallback]),
      [["/sys/fs/cgroup", "cgroup2", "cgroup2", MS.RDONLY | MS.NOSUID, "/sys/fs/cgroup"]],
    );
  });
  it("gives sysfs and cgroup2 mounts a host tree to bind when a user namespace may not mount them", () => {
    const p = buildRootfsPlan(
      spec({
        mounts: [
          { destination: "/sys", type: "sysfs", source: "sysfs" },
          { destination: "/sys/fs/cgroup", type: "cgroup2", source: "cgroup2" },
          { destination: "/tmp", type: "tmpfs", source: "tmpfs" },
        ],
        linux: { cgroupsPath: "/pod/c1" },
      }),
      "/b",
      { host: V1_HOST },
    );
    assert.deepEqual(
      p.mounts.map((m) => m.fallback),
      ["/sys", "/sys/fs/cgroup/unified/pod/c1", ""],
    );
  });
  it("reads the host cgroup layout from mountinfo", () => {
    const mi = [
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    ].join("\n");
    assert.deepEqual(parseRootfsHost(mi), {
      cgroupVersion: 1,
      cgroupRoot: "/sys/fs/cgroup",
      cgroupV1: [
        { dir: "cpu,cpuacct", options: "cpu,cpuacct" },
        { dir: "systemd", options: "name=systemd" },
      ],
      cgroup2Root: "/sys/fs/cgroup/unified",
    });
    const v2 = parseRootfsHost("30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw");
    assert.equal(v2.cgroupVersion, 2);
    assert.equal(v2.cgroup2Root, "/sys/fs/cgroup");
  });

  it("turns sysctls into /proc/sys paths and checks their namespace", () => {
    const p = buildRootfsPlan(
      spec({
        linux: {
          namespaces: [{ type: "network" }, { type: "ipc" }, { type: "uts" }],
          sysctl: {
            "net.ipv4.ip_forward": "1",
            "kernel.shmmax": "100",
            "fs.mqueue.msg_max": "20",
            "kernel.domainname": "x",
          },
        },
      }),
      "/b",
    );
    assert.deepEqual(p.sysctls, [
      { path: "/proc/sys/net/ipv4/ip_forward", value: "1" },
      { path: "/proc/sys/kernel/shmmax", value: "100" },
      { path: "/proc/sys/fs/mqueue/msg_max", value: "20" },
      { path: "/proc/sys/kernel/domainname", value: "x" },
    ]);
    assert.throws(
      () => buildRootfsPlan(spec({ linux: { sysctl: { "net.ipv4.ip_forward": "1" } } }), "/b"),
      /linux\.sysctl\["net\.ipv4\.ip_forward"\]: needs the container to have its own network namespace/,
    );
    assert.throws(
      () => buildRootfsPlan(spec({ linux: { sysctl: { "vm.swappiness": "1" } } }), "/b"),
      /is not namespaced/,
    );
    assert.throws(
      () =>
        buildRootfsPlan(
          spec({ linux: { namespaces: [{ type: "network" }], sysctl: { "net..x": "1" } } }),
          "/b",
        ),
      /is not a valid sysctl name/,
    );
  });

  it("passes masked and readonly paths through, normalised", () => {
    const p = buildRootfsPlan(
      spec({ linux: { maskedPaths: ["/proc/kcore", "/proc//acpi/"], readonlyPaths: ["/proc/sys"] } }),
      "/b",
    );
    assert.deepEqual(p.maskedPaths, ["/proc/kcore", "/proc/acpi"]);
    assert.deepEqual(p.readonlyPaths, ["/proc/sys"]);
  });
});

describe("buildRootfsPlan on arbitrary input", () => {
  const option = fc.oneof(
    fc.constantFrom(
      "ro",
      "rw",
      "nosuid",
      "rbind",
      "bind",
      "rro",
      "rnoatime",
      "rshared",
      "mode=755",
      "size=1m",
      "tmpcopyup",
      "idmap",
    ),
    fc.string({ maxLength: 12 }),
  );
  const mount = fc.record({
    destination: fc.string({ maxLength: 30 }),
    type: fc.constantFrom("tmpfs", "proc", "bind", "none", "sysfs", ""),
    source: fc.string({ maxLength: 20 }),
    options: fc.array(option, { maxLength: 6 }),
  });

  it("either plans every mount with an absolute, normalised destination or throws a RootfsPlanError", () => {
    fc.assert(
      fc.property(fc.array(mount, { maxLength: 5 }), (mounts) => {
        let plan: ReturnType<typeof buildRootfsPlan>;
        try {
          plan = buildRootfsPlan(spec({ mounts }), "/bundle", { host: V1_HOST });
        } catch (e) {
          return e instanceof RootfsPlanError;
        }
        return plan.mounts.every(
          (m) =>
            m.destination.startsWith("/") &&
            m.destination !== "/" &&
            !m.destination.split("/").includes("..") &&
            !m.destination.includes("//") &&
            !m.destination.endsWith("/") &&
            (m.fstype !== "" || m.source.startsWith("/")) &&
            !m.data.split(",").includes("tmpcopyup"),
        );
      }),
      { numRuns: 500 },
    );
  });
});
