// The v2 device policy on the kernel: the generated BPF_PROG_TYPE_CGROUP_DEVICE program attached
// to a cgroup2 subtree of /sys/fs/cgroup/unified (through CgroupManager.applyResources) makes
// open(2) of a denied device fail with EPERM for a process in that cgroup, while allowed devices
// work; an update replaces the program (one attached) and the cgroup is removed afterwards.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type CgroupLayout, CgroupManager } from "../../src/oci/cgroups/index.js";
import { nativeCgroup } from "../../src/oci/cgroups/native.js";

const UNIFIED = "/sys/fs/cgroup/unified";
const V2: CgroupLayout = { mode: "v2", v1: [], unified: { mountpoint: UNIFIED, root: "/" } };
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

const top = `/tsshim-test-devbpf-${process.pid}`;
const mgr = new CgroupManager({
  cgroupsPath: `${top}/c`,
  id: "unused",
  layout: V2,
  own: new Map([["", "/"]]),
});
const dir = `${UNIFIED}${top}/c`;
const tmp = mkdtempSync(join(tmpdir(), "tsshim-devbpf-"));
const node = join(tmp, "mem");
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await mgr.kill("SIGKILL").catch(() => {});
  await mgr.destroy().catch(() => {});
});

/** Runs sh -c script as a process that first moves itself into the cgroup. */
function inCgroup(script: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", `echo $$ > ${dir}/cgroup.procs || exit 99; ${script}`], { env });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("cgroup v2 device program (bpf(2))", () => {
  it("denies open of a device the policy denies, allows the default ones, replaces on update", async () => {
    mgr.create();
    // Deny all; the default devices (/dev/null, /dev/zero, mknod of any node…) are added after.
    mgr.applyResources({ devices: [{ allow: false, access: "rwm" }] });
    assert.equal(nativeCgroup().cgroupBpfCount(dir), 1);
    const denied = await inCgroup(
      `mknod ${node} c 1 1 && echo made; head -c1 ${node} > /dev/null; echo mem=$?; head -c1 /dev/zero | wc -c`,
    );
    assert.match(denied.out, /^made$/m, "mknod is allowed by the defaults");
    assert.match(denied.out, /Operation not permitted/);
    assert.match(denied.out, /mem=1/);
    assert.match(denied.out, /^\s*1$/m, "/dev/zero still readable");

    // Update: allow everything; the old program is detached, so the open reaches the driver
    // (which may have no such device here: anything but the policy's EPERM).
    mgr.applyResources({ devices: [{ allow: true, access: "rwm" }] });
    assert.equal(nativeCgroup().cgroupBpfCount(dir), 1, "the new program replaced the old one");
    const allowed = await inCgroup(`head -c1 /dev/zero | wc -c; head -c1 ${node} > /dev/null`);
    assert.match(allowed.out, /^\s*1$/m);
    assert.doesNotMatch(allowed.out, /Operation not permitted/);

    await mgr.destroy();
    assert.equal(existsSync(dir), false);
  });

  it("a missing cgroup fails with a clear error", () => {
    assert.throws(() => nativeCgroup().cgroupBpfCount(`${UNIFIED}/no-such-tsshim-cgroup`), /ENOENT/);
  });
});
