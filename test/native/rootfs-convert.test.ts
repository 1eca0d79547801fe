// The Node-API converter of rootfs plans (native/napi_rootfs.c): a plan from buildRootfsPlan
// converts whole; a malformed one is a TypeError naming the field, with nothing leaked.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildRootfsPlan } from "../../src/oci/rootfs-plan.js";
import { defaultSpec } from "./container-fixture.js";
import { rootfsAddon } from "./rootfs-fixture.js";

describe("rootfs plan converter", () => {
  it("converts every list of a built plan", () => {
    const spec = defaultSpec([]);
    spec.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
    const plan = buildRootfsPlan(spec, "/b");
    assert.deepEqual(rootfsAddon()._rootfsPlanCheck(plan), {
      mounts: plan.mounts.length,
      devices: 6,
      symlinks: 6,
      sysctls: 1,
      maskedPaths: 3,
      readonlyPaths: 3,
      lateReadonly: 0,
    });
  });

  it("names the bad field", () => {
    const plan = buildRootfsPlan(defaultSpec([]), "/b");
    const cases: Array<[unknown, RegExp]> = [
      [null, /plan must be an object/],
      [{ ...plan, rootfs: 1 }, /rootfs must be a string/],
      [{ ...plan, noPivot: "yes" }, /noPivot must be a number/],
      [{ ...plan, mounts: {} }, /mounts must be an array/],
      [
        { ...plan, mounts: [...plan.mounts, { ...plan.mounts[0], flags: -1 }] },
        /mounts\[6\]\.flags must be a non-negative number/,
      ],
      [
        { ...plan, devices: [{ ...plan.devices[0], path: "/dev/a\0b" }] },
        /devices\[0\]\.path must be a string without NUL bytes/,
      ],
      [{ ...plan, maskedPaths: ["/ok", 3] }, /maskedPaths\[1\] must be a string/],
      [{ ...plan, sysctls: [7] }, /sysctls\[0\] must be an object/],
    ];
    for (const [bad, re] of cases) {
      assert.throws(
        () => rootfsAddon()._rootfsPlanCheck(bad),
        (e: unknown) => e instanceof TypeError && re.test(e.message),
      );
    }
  });
});
