// The rootfs in a user namespace, where the kernel locks the flags of mounts that came from
// the host and refuses some filesystems: read-only binds, readonly root, masked and readonly
// paths still apply, and sysfs without a network namespace falls back to a bind of /sys.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import type { Spec } from "../../src/oci/spec.js";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";
import { hostMountsMentioning, mountAt, parseMountinfo } from "./rootfs-fixture.js";

let bundle: Bundle;
let hostDir: string;
let before_: string[];
before(() => {
  bundle = makeBundle();
  // The container's root is host uid 100000: it must be able to reach the rootfs and sources.
  chmodSync(bundle.dir, 0o755);
  hostDir = mkdtempSync(join(tmpdir(), "tsshim-rootfs-userns-"));
  chmodSync(hostDir, 0o755);
});
after(() => {
  bundle.cleanup();
  rmSync(hostDir, { recursive: true, force: true });
});
beforeEach(() => {
  before_ = hostMountsMentioning(bundle.dir, hostDir);
});
afterEach(() => {
  assert.deepEqual(hostMountsMentioning(bundle.dir, hostDir), before_, "host mount table unchanged");
});

function usernsSpec(script: string): Spec {
  const spec = defaultSpec(["sh", "-c", script]);
  spec.linux!.namespaces!.push({ type: "user" });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  return spec;
}

describe("rootfs in a user namespace", () => {
  it("ro and nosuid binds, readonly root, masked and readonly paths all take effect", async () => {
    const src = join(hostDir, "data");
    mkdirSync(src);
    writeFileSync(join(src, "f"), "in\n");
    // The rootfs belongs to host root, outside the mapping: the mount point must exist already
    // (containerd's remapped snapshots are owned by the mapped root instead).
    mkdirSync(join(bundle.rootfs, "data"), { recursive: true });
    const spec = usernsSpec(
      "cat /data/f; touch /data/g 2>&1; touch /x 2>&1; echo k=$(cat /proc/keys | wc -c); echo 1 > /proc/sys/kernel/domainname; cat /proc/self/mountinfo",
    );
    spec.root!.readonly = true;
    spec.mounts!.push({
      destination: "/data",
      type: "bind",
      source: src,
      options: ["rbind", "ro", "nosuid", "nodev"],
    });
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    assert.match(r.stdout, /^in$/m);
    assert.equal((r.stdout.match(/Read-only file system/g) ?? []).length, 2, r.stdout);
    assert.match(r.stdout, /k=0/);
    assert.match(r.stderr, /Read-only file system/);
    const all = parseMountinfo(r.stdout);
    assert.ok(mountAt(all, "/")!.opts.includes("ro"));
    for (const o of ["ro", "nosuid", "nodev"]) assert.ok(mountAt(all, "/data")!.opts.includes(o), o);
    assert.ok(mountAt(all, "/proc/sys")!.opts.includes("ro"));
  });

  it("without a network namespace sysfs cannot be mounted: /sys is the host's, bound read-only", async () => {
    const spec = usernsSpec("cat /proc/self/mountinfo; ls /sys/kernel >/dev/null && echo sys-ok");
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== "network");
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    assert.match(r.stdout, /sys-ok/);
    const sys = mountAt(parseMountinfo(r.stdout), "/sys")!;
    assert.equal(sys.fstype, "sysfs");
    for (const o of ["ro", "nosuid", "nodev", "noexec"]) assert.ok(sys.opts.includes(o), `/sys ${o}`);
  });
});
