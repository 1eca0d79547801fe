// The v1 devices list emulation and the transition an Update writes.
import assert from "node:assert/strict";
import { it } from "node:test";
import {
  applyDeviceRule,
  deviceTransition,
  parseDevicesList,
  sameDeviceState,
  type V1DeviceState,
} from "../../src/oci/cgroups/devices-v1.js";
import { DEFAULT_ALLOWED_DEVICES } from "../../src/oci/cgroups/v1.js";
import type { LinuxDeviceCgroup } from "../../src/oci/spec.js";

const ALL = parseDevicesList("a *:* rwm\n");
const apply = (from: V1DeviceState, rules: LinuxDeviceCgroup[]) => rules.reduce(applyDeviceRule, from);
const containerd: LinuxDeviceCgroup[] = [{ allow: false, access: "rwm" }, ...DEFAULT_ALLOWED_DEVICES];

it("emulates the kernel list: deny all, then allows merge per device", () => {
  const s = apply(ALL, [...containerd, { allow: true, type: "c", major: 1, minor: 3, access: "r" }]);
  assert.equal(s.allowAll, false);
  assert.equal(s.exceptions.get("c 1:3"), "rwm");
  assert.equal(s.exceptions.get("c *:*"), "m");
  assert.equal(s.exceptions.get("c 136:*"), "rwm");
  const narrowed = applyDeviceRule(s, { allow: false, type: "c", major: 1, minor: 3, access: "w" });
  assert.equal(narrowed.exceptions.get("c 1:3"), "rm");
  assert.ok(
    sameDeviceState(
      parseDevicesList("c 1:3 rwm\nb *:* m\n"),
      apply(parseDevicesList("c 1:3 rwm\n"), [{ allow: true, type: "b", access: "m" }]),
    ),
  );
});

it("create from allow-all: reset first, then the allows", () => {
  const w = deviceTransition(ALL, apply(ALL, containerd));
  assert.deepEqual(w[0], { file: "devices.deny", line: "a" });
  assert.ok(w.slice(1).every((x) => x.file === "devices.allow"));
  assert.ok(w.some((x) => x.line === "c 1:3 rwm"));
});

it("an Update with the same list writes nothing; a changed one allows first, then revokes", () => {
  const current = apply(ALL, containerd);
  assert.deepEqual(deviceTransition(current, apply(current, containerd)), []);
  const next = apply(current, [
    { allow: false, access: "rwm" },
    { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
    ...DEFAULT_ALLOWED_DEVICES.filter((d) => d.major !== 136),
  ]);
  const w = deviceTransition(current, next);
  assert.deepEqual(w, [
    { file: "devices.allow", line: "c 10:200 rwm" },
    { file: "devices.deny", line: "c 136:* rwm" },
  ]);
  // Applying the writes as the kernel would gives the target.
  const after = w.reduce(
    (s, x) => applyDeviceRule(s, { allow: x.file === "devices.allow", ...lineRule(x.line) }),
    current,
  );
  assert.ok(sameDeviceState(after, next));
});

function lineRule(line: string): Omit<LinuxDeviceCgroup, "allow"> {
  const [type, nums, access] = line.split(" ") as [string, string, string];
  const [ma, mi] = nums.split(":") as [string, string];
  const n = (x: string) => (x === "*" ? -1 : Number(x));
  return { type, major: n(ma), minor: n(mi), access };
}
