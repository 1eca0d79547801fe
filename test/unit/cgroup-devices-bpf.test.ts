// The v2 device program: generated instructions run in the interpreter must give exactly the
// rule list's meaning (last matching rule per access bit), for hand-picked and random lists.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  ACC_MKNOD,
  ACC_READ,
  ACC_WRITE,
  DEV_BLOCK,
  DEV_CHAR,
  type DeviceAccess,
  deviceProgram,
  encodeProgram,
  evaluateRules,
  interpretDeviceProgram,
  OP,
} from "../../src/oci/cgroups/devices-bpf.js";
import { DEFAULT_ALLOWED_DEVICES } from "../../src/oci/cgroups/v1.js";
import type { LinuxDeviceCgroup } from "../../src/oci/spec.js";

const run = (rules: LinuxDeviceCgroup[], req: DeviceAccess) =>
  interpretDeviceProgram(deviceProgram(rules), req);
const chr = (major: number, minor: number, access: number): DeviceAccess => ({
  type: DEV_CHAR,
  major,
  minor,
  access,
});
const RW = ACC_READ | ACC_WRITE;

describe("device program", () => {
  it("containerd's list (deny all, then the defaults) allows /dev/null and denies /dev/mem and disks", () => {
    const rules: LinuxDeviceCgroup[] = [{ allow: false, access: "rwm" }, ...DEFAULT_ALLOWED_DEVICES];
    assert.equal(run(rules, chr(1, 3, RW)), 1, "/dev/null rw");
    assert.equal(run(rules, chr(136, 7, RW)), 1, "/dev/pts/7");
    assert.equal(run(rules, chr(1, 1, ACC_READ)), 0, "/dev/mem read");
    assert.equal(run(rules, chr(1, 1, ACC_MKNOD)), 1, "mknod of any char device");
    assert.equal(run(rules, { type: DEV_BLOCK, major: 8, minor: 0, access: ACC_READ }), 0, "sda read");
    assert.equal(run(rules, { type: DEV_BLOCK, major: 8, minor: 0, access: ACC_MKNOD }), 1, "sda mknod");
  });

  it("a later deny narrows an earlier allow per access bit", () => {
    const rules: LinuxDeviceCgroup[] = [
      { allow: true, type: "c", major: 10, access: "rwm" },
      { allow: false, type: "c", major: 10, minor: 200, access: "w" },
    ];
    assert.equal(run(rules, chr(10, 200, ACC_READ)), 1);
    assert.equal(run(rules, chr(10, 200, RW)), 0, "read+write needs write too");
    assert.equal(run(rules, chr(10, 201, RW)), 1);
    assert.equal(run(rules, chr(11, 0, ACC_READ)), 0, "no rule: denied");
  });

  it("allow-all ('a') and an empty list", () => {
    assert.equal(run([{ allow: true, access: "rwm" }], chr(1, 1, RW | ACC_MKNOD)), 1);
    assert.equal(run([], chr(1, 3, ACC_READ)), 0);
  });

  it("emits no instruction after an unconditional rule (the verifier refuses unreachable code)", () => {
    const p = deviceProgram([
      { allow: true, access: "rwm" },
      { allow: false, type: "c", major: 1, access: "r" },
    ]);
    // Every instruction is reached by some access in the interpreter's view of the jumps.
    const reached = new Set<number>([0]);
    for (let pc = 0; pc < p.length; pc++) {
      if (!reached.has(pc)) continue;
      const x = p[pc]!;
      if (x.code === OP.EXIT) continue;
      if (x.code === OP.JA) reached.add(pc + 1 + x.off);
      else if (x.code === OP.JNEK || x.code === OP.JSETK) {
        reached.add(pc + 1);
        reached.add(pc + 1 + x.off);
      } else reached.add(pc + 1);
    }
    assert.equal(reached.size, p.length, "every instruction reachable");
  });

  it("encodes struct bpf_insn little-endian", () => {
    const bytes = encodeProgram([{ code: OP.JNEK, dst: 4, src: 1, off: -2, imm: 0x01020304 }]);
    assert.deepEqual([...bytes], [0x55, 0x14, 0xfe, 0xff, 0x04, 0x03, 0x02, 0x01]);
  });

  it("matches the rule list's meaning for random lists and accesses", () => {
    const num = fc.oneof(fc.constant(-1), fc.constant(undefined), fc.integer({ min: 0, max: 3 }));
    const rule = fc.record({
      allow: fc.boolean(),
      type: fc.constantFrom("a", "b", "c", undefined),
      major: num,
      minor: num,
      access: fc.subarray(["r", "w", "m"], { minLength: 1 }).map((a) => a.join("")),
    });
    const req = fc.record({
      type: fc.constantFrom(DEV_BLOCK, DEV_CHAR),
      major: fc.integer({ min: 0, max: 3 }),
      minor: fc.integer({ min: 0, max: 3 }),
      access: fc.integer({ min: 1, max: 7 }),
    });
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 12 }), req, (rs, q) => {
        const rules = rs.map((r) => {
          const out: LinuxDeviceCgroup = { allow: r.allow, access: r.access };
          if (r.type !== undefined) out.type = r.type;
          if (r.major !== undefined) out.major = r.major;
          if (r.minor !== undefined) out.minor = r.minor;
          return out;
        });
        assert.equal(run(rules, q) === 1, evaluateRules(rules, q));
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses invalid rule types and access strings", () => {
    assert.throws(() => deviceProgram([{ allow: true, type: "x", access: "r" }]), /invalid type/);
    assert.throws(() => deviceProgram([{ allow: true, type: "c", access: "q" }]), /invalid access/);
  });
});
