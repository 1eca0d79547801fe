// /dev inside a busybox container: default devices with their majors/minors/modes, spec
// devices (mknod, or host nodes bound in under a user namespace), the standard symlinks.
import assert from "node:assert/strict";
import { chmodSync } from "node:fs";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { buildRootfsPlan } from "../../src/oci/rootfs-plan.js";
import type { Spec } from "../../src/oci/spec.js";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";
import { hostMountsMentioning, mountAt, parseMountinfo, testRun } from "./rootfs-fixture.js";

let bundle: Bundle;
let before_: string[];
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

interface Node {
  perms: string;
  uid: string;
  gid: string;
  majorMinor: string;
}

// busybox `ls -ln` lines: "crw-rw-rw-    1 0    0     1,   3 Nov 22 06:45 null"
function parseLs(out: string): Map<string, Node & { link?: string }> {
  const m = new Map<string, Node & { link?: string }>();
  for (const line of out.split("\n")) {
    const dev = /^([cbp-][rwxsStT-]{9})\s+\d+\s+(\d+)\s+(\d+)\s+(\d+,\s*\d+)\s+\S+\s+\S+\s+\S+\s+(\S+)$/.exec(
      line,
    );
    if (dev) {
      m.set(dev[5]!, { perms: dev[1]!, uid: dev[2]!, gid: dev[3]!, majorMinor: dev[4]!.replace(/\s+/g, "") });
      continue;
    }
    const other =
      /^([lpd-][rwxsStT-]{9})\s+\d+\s+(\d+)\s+(\d+)\s+\d+\s+\S+\s+\S+\s+\S+\s+(\S+)(?: -> (\S+))?$/.exec(
        line,
      );
    if (other) {
      const e: Node & { link?: string } = {
        perms: other[1]!,
        uid: other[2]!,
        gid: other[3]!,
        majorMinor: "",
      };
      if (other[5] !== undefined) e.link = other[5];
      m.set(other[4]!, e);
    }
  }
  return m;
}

const DEFAULTS: Array<[string, string]> = [
  ["null", "1,3"],
  ["zero", "1,5"],
  ["full", "1,7"],
  ["random", "1,8"],
  ["urandom", "1,9"],
  ["tty", "5,0"],
];

function withDevices(spec: Spec): Spec {
  spec.linux!.devices = [
    { type: "c", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o640, uid: 12, gid: 34 },
    { type: "b", path: "/dev/loop-tsshim", major: 7, minor: 99, fileMode: 0o600 },
    { type: "p", path: "/dev/sub/fifo", fileMode: 0o644 },
  ];
  return spec;
}

describe("rootfs /dev", () => {
  it("default and spec devices are created with their type, numbers, mode and owner", async () => {
    const r = await runContainer(bundle, withDevices(defaultSpec(["sh", "-c", "ls -ln /dev /dev/sub"])));
    assert.equal(r.status.code, 0, r.stderr);
    const ls = parseLs(r.stdout);
    for (const [name, mm] of DEFAULTS) {
      assert.deepEqual(ls.get(name), { perms: "crw-rw-rw-", uid: "0", gid: "0", majorMinor: mm }, name);
    }
    assert.deepEqual(ls.get("fuse"), { perms: "crw-r-----", uid: "12", gid: "34", majorMinor: "10,229" });
    assert.deepEqual(ls.get("loop-tsshim"), { perms: "brw-------", uid: "0", gid: "0", majorMinor: "7,99" });
    assert.equal(ls.get("fifo")?.perms, "prw-r--r--");
  });

  it("the standard symlinks exist and work", async () => {
    const r = await runContainer(
      bundle,
      defaultSpec([
        "sh",
        "-c",
        "ls -ln /dev; test -e /dev/stdin && test -e /dev/fd/1 && echo fd-ok; ls /dev/fd/ | grep -c . ; test -e /dev/pts/ptmx && echo pts-ok",
      ]),
    );
    assert.equal(r.status.code, 0, r.stderr);
    const ls = parseLs(r.stdout);
    assert.equal(ls.get("fd")?.link, "/proc/self/fd");
    assert.equal(ls.get("stdin")?.link, "/proc/self/fd/0");
    assert.equal(ls.get("stdout")?.link, "/proc/self/fd/1");
    assert.equal(ls.get("stderr")?.link, "/proc/self/fd/2");
    assert.equal(ls.get("ptmx")?.link, "pts/ptmx");
    assert.equal(ls.get("core")?.link, "/proc/kcore");
    assert.match(r.stdout, /^fd-ok$/m);
    assert.match(r.stdout, /pts-ok/);
  });

  it("the devices work: /dev/null swallows, /dev/zero reads zeros, /dev/full fails ENOSPC", async () => {
    const r = await runContainer(
      bundle,
      defaultSpec([
        "sh",
        "-c",
        "echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | od -An -tx1; (echo y > /dev/full) 2>&1; head -c 8 /dev/urandom | wc -c",
      ]),
    );
    assert.match(r.stdout, /null-ok/);
    assert.match(r.stdout, /00 00 00 00/);
    assert.match(r.stdout + r.stderr, /No space left on device/);
    assert.match(r.stdout, /^\s*8$/m);
  });

  it("without a /dev mount the image's own /dev is populated, and again on a second run", () => {
    const spec = defaultSpec([]);
    spec.mounts = spec.mounts!.filter((m) => !m.destination.startsWith("/dev"));
    const plan = buildRootfsPlan(spec, bundle.dir);
    for (let i = 0; i < 2; i++) {
      const r = testRun(plan, ["/bin/sh", "-c", "ls -ln /dev"]);
      assert.equal(r.error, null, JSON.stringify(r.error));
      const ls = parseLs(r.output);
      assert.equal(ls.get("null")?.majorMinor, "1,3");
      assert.equal(ls.get("fd")?.link, "/proc/self/fd");
    }
  });

  it("/dev/console is the terminal's PTY slave, bound over an empty file", () => {
    const plan = buildRootfsPlan(defaultSpec([]), bundle.dir);
    const r = testRun(
      plan,
      ["/bin/sh", "-c", "ls -ln /dev | grep console; cat /proc/self/mountinfo"],
      undefined,
      undefined,
      true,
    );
    assert.equal(r.error, null, JSON.stringify(r.error));
    const ls = parseLs(r.output);
    assert.equal(ls.get("console")?.majorMinor, "136,0");
    const m = mountAt(parseMountinfo(r.output), "/dev/console")!;
    assert.equal(m.fstype, "devpts");
    // pts/0 itself: "/0//deleted" once the runner's master is closed at exec.
    assert.match(m.root, /^\/0(\/\/deleted)?$/);
  });

  it("in a user namespace the host's nodes are bind-mounted instead of created", async () => {
    const spec = withDevices(
      defaultSpec(["sh", "-c", "ls -ln /dev; cat /proc/self/mountinfo; echo z > /dev/null && echo null-ok"]),
    );
    spec.linux!.devices = spec.linux!.devices!.filter((d) => d.path === "/dev/fuse");
    spec.linux!.namespaces!.push({ type: "user" });
    spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    // The container's root (host uid 100000) must be able to reach the rootfs.
    chmodSync(bundle.dir, 0o755);
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    const ls = parseLs(r.stdout);
    // The host's /dev/null is owned by a host uid outside the mapping: it shows as nobody.
    assert.equal(ls.get("null")?.majorMinor, "1,3");
    assert.equal(ls.get("null")?.perms, "crw-rw-rw-");
    assert.equal(ls.get("fuse")?.majorMinor, "10,229");
    const all = parseMountinfo(r.stdout);
    for (const name of ["null", "zero", "full", "random", "urandom", "tty", "fuse"]) {
      assert.ok(mountAt(all, `/dev/${name}`) !== undefined, `/dev/${name} is a bind mount`);
    }
    assert.match(r.stdout, /null-ok/);
  });
});
