// The v1 devices policy on the kernel: the list the kernel shows is the emulated one, and Updates
// (same list, then a changed one, back and forth) keep /dev/null usable for a process opening it in
// a loop. (That the writes never pass through deny-all is shown by the unit test of the transition.)
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, it } from "node:test";
import { applyDeviceRule, parseDevicesList, sameDeviceState } from "../../src/oci/cgroups/devices-v1.js";
import { CgroupManager, detectLayout } from "../../src/oci/cgroups/index.js";
import { DEFAULT_ALLOWED_DEVICES } from "../../src/oci/cgroups/v1.js";
import type { LinuxDeviceCgroup } from "../../src/oci/spec.js";

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const layout = detectLayout();
const devicesMount = layout.v1.find((h) => h.controllers.includes("devices"));
const top = `/tsshim-test-devv1-${process.pid}`;
const mgr = new CgroupManager({ cgroupsPath: `${top}/c`, id: "unused", layout });
after(async () => {
  await mgr.kill("SIGKILL").catch(() => {});
  await mgr.destroy().catch(() => {});
});

const containerd: LinuxDeviceCgroup[] = [{ allow: false, access: "rwm" }, ...DEFAULT_ALLOWED_DEVICES];

it("v1 devices: the kernel list equals the emulation; /dev/null stays usable across Updates", async (t) => {
  if (devicesMount === undefined) {
    t.skip("no v1 devices controller on this host");
    return;
  }
  const list = join(devicesMount.mountpoint, top, "c", "devices.list");
  mgr.create();
  const before = parseDevicesList(readFileSync(list, "utf8"));
  mgr.applyResources({ devices: containerd });
  const kernel = parseDevicesList(readFileSync(list, "utf8"));
  assert.ok(sameDeviceState(kernel, containerd.reduce(applyDeviceRule, before)), readFileSync(list, "utf8"));
  assert.equal(kernel.allowAll, false);

  const procs = mgr.procsPaths().join(" ");
  const loop = spawn(
    "sh",
    [
      "-c",
      `for f in ${procs}; do echo $$ > $f; done; i=0; while [ $i -lt 3000 ]; do : < /dev/null || echo FAIL; i=$((i+1)); done; echo done`,
    ],
    { env },
  );
  let out = "";
  loop.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  loop.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  let finished = false;
  const closed = new Promise((r) => loop.on("close", r)).then(() => {
    finished = true;
  });
  const extra: LinuxDeviceCgroup = { allow: true, type: "c", major: 10, minor: 200, access: "rwm" };
  let updates = 0;
  while (!finished) {
    mgr.applyResources({ devices: updates % 2 === 0 ? containerd : [...containerd, extra] });
    updates++;
    await new Promise((r) => setImmediate(r));
  }
  await closed;
  assert.ok(updates >= 20, `${updates} updates ran while the loop opened /dev/null`);
  assert.match(out, /done/);
  assert.doesNotMatch(out, /FAIL|denied|not permitted/i);
  mgr.applyResources({ devices: [...containerd, extra] });
  assert.match(readFileSync(list, "utf8"), /^c 10:200 rwm$/m);
});
