// The container plan (spec → native plan) and the error messages of the core:
// bad input is rejected here, before anything is created.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildContainerPlan, buildExecPlan, ContainerPlanError } from "../../src/oci/container-plan.js";
import { errnoName, formatNativeError } from "../../src/oci/errors.js";
import type { Spec } from "../../src/oci/spec.js";

function spec(): Spec {
  return {
    ociVersion: "1.2.0",
    process: { user: { uid: 0, gid: 0 }, args: ["sh"], env: ["A=1", "PATH=/x:/y"], cwd: "/" },
    root: { path: "rootfs" },
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }, { type: "user" }, { type: "time" }] },
  };
}

test("errno names and the one-line message", () => {
  assert.equal(errnoName(2), "ENOENT");
  assert.equal(errnoName(26), "ETXTBSY");
  assert.equal(errnoName(95), "EOPNOTSUPP");
  assert.equal(errnoName(4242), "errno 4242");
  const rec = { errnum: 2, step: "mount", syscall: "mount", detail: "proc", path: "/proc" };
  assert.equal(formatNativeError(rec), 'mount "proc" on "/proc": ENOENT');
  assert.equal(
    formatNativeError({ errnum: 2, step: "execve", syscall: "execve", detail: "foo", path: "" }),
    'execve "foo": ENOENT',
  );
  assert.equal(
    formatNativeError({ errnum: 1, step: "user", syscall: "setresuid", detail: "1000", path: "" }),
    'user (setresuid) "1000": EPERM',
  );
});

test("namespaces, maps, time offsets, PATH and caps become a flat plan", () => {
  const s = spec();
  s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 2000, size: 10 }];
  s.linux!.timeOffsets = { monotonic: { secs: 5, nanosecs: 6 } };
  s.process!.capabilities = {
    bounding: ["CAP_KILL", "CAP_CHOWN"],
    permitted: ["CAP_KILL"],
    inheritable: ["CAP_KILL"],
    ambient: ["CAP_KILL"],
  };
  s.process!.rlimits = [
    { type: "RLIMIT_NOFILE", soft: 10, hard: JSON.parse("18446744073709551615") as number },
  ];
  const { plan, parent } = buildContainerPlan(s, "/b", { rootfsPlan: false });
  assert.equal(plan.cloneFlags, 0x20000000 | 0x00020000 | 0x10000000);
  assert.equal(plan.newUser, true);
  assert.equal(plan.newTime, true);
  assert.equal(plan.timeOffsets, "monotonic 5 6\n");
  assert.equal(plan.rootfsPath, "/b/rootfs");
  assert.equal(parent.uidMap, "0 1000 10\n");
  assert.equal(parent.gidMap, "0 2000 10\n");
  assert.equal(plan.process.searchPath, "/x:/y");
  assert.equal(plan.process.caps?.bounding, (1n << 5n) | 1n);
  assert.equal(plan.process.caps?.ambient, 1n << 5n);
  assert.equal(plan.process.rlimits[0]?.hard, (1n << 64n) - 1n);
});

test("ambient caps the kernel would refuse (not permitted and inheritable) are dropped with a warning, as runc", () => {
  const s = spec();
  s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 2000, size: 10 }];
  s.process!.capabilities = {
    bounding: ["CAP_KILL", "CAP_CHOWN"],
    permitted: ["CAP_KILL"],
    ambient: ["CAP_KILL"],
  };
  const { plan, parent } = buildContainerPlan(s, "/b", { rootfsPlan: false });
  assert.equal(plan.process.caps?.ambient, 0n);
  assert.ok(
    parent.warnings.includes(
      "process.capabilities.ambient: CAP_KILL not both permitted and inheritable; not raised (as runc)",
    ),
    parent.warnings.join("; "),
  );
});

test("joins come user first and mount last; exec joins the init's namespaces", () => {
  const s = spec();
  s.linux!.namespaces = [
    { type: "mount", path: "/proc/9/ns/mnt" },
    { type: "network", path: "/proc/9/ns/net" },
    { type: "user", path: "/proc/9/ns/user" },
  ];
  const { plan } = buildContainerPlan(s, "/b", { rootfsPlan: false });
  assert.deepEqual(
    plan.joins.map((j) => j.path),
    ["/proc/9/ns/user", "/proc/9/ns/net", "/proc/9/ns/mnt"],
  );
  const e = buildExecPlan(spec(), 42, { user: { uid: 1, gid: 1 }, args: ["ls"], cwd: "/" });
  assert.deepEqual(
    e.plan.joins.map((j) => j.path),
    ["/proc/42/ns/user", "/proc/42/ns/pid", "/proc/42/ns/time_for_children", "/proc/42/ns/mnt"],
  );
  assert.equal(e.plan.cloneFlags, 0);
});

test("bad input names the field", () => {
  const noMaps = spec();
  assert.throws(() => buildContainerPlan(noMaps, "/b", { rootfsPlan: false }), /linux.uidMappings/);
  const badCap = spec();
  delete badCap.linux;
  badCap.process!.capabilities = { bounding: ["CAP_NOPE"] };
  assert.throws(
    () => buildContainerPlan(badCap, "/b", { rootfsPlan: false }),
    (e: unknown) => e instanceof ContainerPlanError && e.field === "process.capabilities.bounding[0]",
  );
  const relCwd = spec();
  delete relCwd.linux;
  relCwd.process!.cwd = "tmp";
  assert.throws(() => buildContainerPlan(relCwd, "/b", { rootfsPlan: false }), /process.cwd/);
  const offsets = spec();
  offsets.linux = { timeOffsets: { monotonic: { secs: 1 } } };
  assert.throws(() => buildContainerPlan(offsets, "/b", { rootfsPlan: false }), /new time namespace/);
});
