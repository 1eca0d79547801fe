// Every argument operator and every action, checked by running the compiled
// filter in the cBPF interpreter.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeRet } from "../../src/oci/seccomp/bpf.js";
import { compileSeccomp, SeccompCompileError, type SeccompProfile } from "../../src/oci/seccomp/index.js";
import { runFilter } from "../../src/oci/seccomp/interpret.js";
import { AUDIT_ARCH_I386, AUDIT_ARCH_X86_64 } from "../../src/oci/seccomp/syscalls/audit-arch.js";
import { X86_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86.js";
import { X86_64_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86_64.js";

const X64 = { nativeArch: "SCMP_ARCH_X86_64" };

function verdict(profile: SeccompProfile, name: string, args: bigint[] = []): string {
  const { filter } = compileSeccomp(profile, X64);
  return describeRet(runFilter(filter, { nr: X86_64_SYSCALLS[name]!, arch: AUDIT_ARCH_X86_64, args }));
}

/** A profile that allows `ioctl` only when arg 1 satisfies one comparison. */
function oneCond(op: string, value: bigint, valueTwo?: bigint): SeccompProfile {
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      {
        names: ["ioctl"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 1, value, op: op as "SCMP_CMP_EQ", ...(valueTwo === undefined ? {} : { valueTwo }) }],
      },
    ],
  };
}

const HI = 1n << 32n;
// Values that straddle the 32-bit halves: equal low words with different high words and vice versa.
const samples = [
  0n,
  1n,
  0xffffffffn,
  HI,
  HI + 1n,
  HI - 1n,
  5n * HI + 7n,
  5n * HI + 8n,
  6n * HI + 7n,
  4n * HI + 7n,
  (1n << 64n) - 1n,
];

describe("seccomp argument operators (64-bit ABI)", () => {
  const ops: [string, (a: bigint, v: bigint) => boolean][] = [
    ["SCMP_CMP_EQ", (a, v) => a === v],
    ["SCMP_CMP_NE", (a, v) => a !== v],
    ["SCMP_CMP_LT", (a, v) => a < v],
    ["SCMP_CMP_LE", (a, v) => a <= v],
    ["SCMP_CMP_GT", (a, v) => a > v],
    ["SCMP_CMP_GE", (a, v) => a >= v],
  ];
  for (const [op, holds] of ops) {
    test(`${op} compares all 64 bits`, () => {
      for (const v of [5n * HI + 7n, 0n, 0xffffffffn, HI]) {
        const { filter } = compileSeccomp(oneCond(op, v), X64);
        for (const a of samples) {
          const got = describeRet(
            runFilter(filter, { nr: X86_64_SYSCALLS["ioctl"]!, arch: AUDIT_ARCH_X86_64, args: [3n, a] }),
          );
          assert.equal(got, holds(a, v) ? "ALLOW" : "ERRNO(1)", `${op}: arg ${a} vs ${v}`);
        }
      }
    });
  }

  test("SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo, on both halves", () => {
    const mask = (0xf0n << 32n) | 0x7e020000n;
    const { filter } = compileSeccomp(oneCond("SCMP_CMP_MASKED_EQ", mask, (0x10n << 32n) | 0x20000n), X64);
    const run = (a: bigint) =>
      describeRet(
        runFilter(filter, { nr: X86_64_SYSCALLS["ioctl"]!, arch: AUDIT_ARCH_X86_64, args: [0n, a] }),
      );
    assert.equal(run((0x10n << 32n) | 0x20000n), "ALLOW");
    assert.equal(run((0x1fn << 32n) | 0x20011n), "ALLOW", "bits outside the mask do not matter");
    assert.equal(run(0x20000n), "ERRNO(1)", "high half differs");
    assert.equal(run((0x10n << 32n) | 0x10020000n), "ERRNO(1)", "an extra masked bit in the low half");
  });

  test("SCMP_CMP_MASKED_EQ masks valueTwo too, as libseccomp does", () => {
    const { filter } = compileSeccomp(oneCond("SCMP_CMP_MASKED_EQ", 0xffn, 0x1234n), X64);
    const run = (a: bigint) =>
      describeRet(
        runFilter(filter, { nr: X86_64_SYSCALLS["ioctl"]!, arch: AUDIT_ARCH_X86_64, args: [0n, a] }),
      );
    assert.equal(run(0x34n), "ALLOW");
    assert.equal(run(0x5634n), "ALLOW");
    assert.equal(run(0x35n), "ERRNO(1)");
  });

  test("conditions on different arguments are ANDed", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        {
          names: ["socket"],
          action: "SCMP_ACT_ALLOW",
          args: [
            { index: 0, value: 1, op: "SCMP_CMP_EQ" },
            { index: 2, value: 0, op: "SCMP_CMP_EQ" },
          ],
        },
      ],
    };
    assert.equal(verdict(p, "socket", [1n, 1n, 0n]), "ALLOW");
    assert.equal(verdict(p, "socket", [1n, 1n, 6n]), "ERRNO(1)");
    assert.equal(verdict(p, "socket", [2n, 1n, 0n]), "ERRNO(1)");
  });

  test("two conditions on the same argument become separate rules (ORed, as runc does)", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        {
          names: ["personality"],
          action: "SCMP_ACT_ALLOW",
          args: [
            { index: 0, value: 0, op: "SCMP_CMP_EQ" },
            { index: 0, value: 8, op: "SCMP_CMP_EQ" },
          ],
        },
      ],
    };
    assert.equal(verdict(p, "personality", [0n]), "ALLOW");
    assert.equal(verdict(p, "personality", [8n]), "ALLOW");
    assert.equal(verdict(p, "personality", [9n]), "ERRNO(1)");
  });

  test("args are compared on the low 32 bits only for i386 calls (libseccomp semantics)", () => {
    const p: SeccompProfile = { ...oneCond("SCMP_CMP_EQ", 0x1234n), architectures: ["SCMP_ARCH_X86"] };
    const { filter } = compileSeccomp(p, X64);
    const run = (a: bigint) =>
      describeRet(runFilter(filter, { nr: X86_SYSCALLS["ioctl"]!, arch: AUDIT_ARCH_I386, args: [0n, a] }));
    assert.equal(run(0x1234n), "ALLOW");
    assert.equal(run(HI | 0x1234n), "ALLOW");
    assert.equal(run(0x1235n), "ERRNO(1)");
  });
});

describe("seccomp actions", () => {
  const cases: [string, number | undefined, string][] = [
    ["SCMP_ACT_KILL", undefined, "KILL_THREAD"],
    ["SCMP_ACT_KILL_THREAD", undefined, "KILL_THREAD"],
    ["SCMP_ACT_KILL_PROCESS", undefined, "KILL_PROCESS"],
    ["SCMP_ACT_TRAP", undefined, "TRAP(0)"],
    ["SCMP_ACT_ERRNO", undefined, "ERRNO(1)"],
    ["SCMP_ACT_ERRNO", 38, "ERRNO(38)"],
    ["SCMP_ACT_TRACE", undefined, "TRACE(1)"],
    ["SCMP_ACT_TRACE", 7, "TRACE(7)"],
    ["SCMP_ACT_LOG", undefined, "LOG"],
  ];
  for (const [action, errnoRet, want] of cases) {
    test(`${action}${errnoRet === undefined ? "" : ` errnoRet ${errnoRet}`} → ${want}`, () => {
      const p: SeccompProfile = {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [
          {
            names: ["getppid"],
            action: action as "SCMP_ACT_LOG",
            ...(errnoRet === undefined ? {} : { errnoRet }),
          },
        ],
      };
      assert.equal(verdict(p, "getppid"), want);
      assert.equal(verdict(p, "getpid"), "ALLOW");
    });
  }

  test("the default action applies to unlisted syscalls, with defaultErrnoRet", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 13,
      syscalls: [{ names: ["write"], action: "SCMP_ACT_ALLOW" }],
    };
    assert.equal(verdict(p, "write"), "ALLOW");
    assert.equal(verdict(p, "read"), "ERRNO(13)");
  });

  test("rules for one syscall: the first that matches wins, in profile order", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        {
          names: ["kill"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 3,
          args: [{ index: 1, value: 9, op: "SCMP_CMP_EQ" }],
        },
        {
          names: ["kill"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 4,
          args: [{ index: 1, value: 5, op: "SCMP_CMP_GE" }],
        },
        { names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 5 },
        {
          names: ["kill"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 6,
          args: [{ index: 1, value: 0, op: "SCMP_CMP_EQ" }],
        },
      ],
    };
    assert.equal(verdict(p, "kill", [1n, 9n]), "ERRNO(3)");
    assert.equal(verdict(p, "kill", [1n, 15n]), "ERRNO(4)");
    assert.equal(verdict(p, "kill", [1n, 1n]), "ERRNO(5)");
    assert.equal(verdict(p, "kill", [1n, 0n]), "ERRNO(5)", "the unconditional rule shadows later ones");
  });

  test("a rule whose action is the default action is dropped (as runc does)", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        {
          names: ["personality"],
          action: "SCMP_ACT_ERRNO",
          args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }],
        },
        { names: ["personality"], action: "SCMP_ACT_ALLOW" },
      ],
    };
    assert.equal(verdict(p, "personality", [8n]), "ALLOW");
  });

  test("SCMP_ACT_NOTIFY is refused with a clear error naming the field", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mount"], action: "SCMP_ACT_ALLOW" },
        { names: ["open"], action: "SCMP_ACT_NOTIFY" },
      ],
    };
    assert.throws(
      () => compileSeccomp(p, X64),
      (e: unknown) =>
        e instanceof SeccompCompileError &&
        e.field === "linux.seccomp.syscalls[1].action" &&
        /SCMP_ACT_NOTIFY is not supported/.test(e.message),
    );
  });

  test("bad input is refused with the field named", () => {
    const bad: [SeccompProfile, RegExp][] = [
      [{ defaultAction: "SCMP_ACT_NOPE" as "SCMP_ACT_LOG" }, /defaultAction: unknown seccomp action/],
      [
        {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", errnoRet: 70000 }],
        },
        /syscalls\[0\]\.action: errnoRet 70000/,
      ],
      [
        {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [
            { names: ["read"], action: "SCMP_ACT_KILL", args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }] },
          ],
        },
        /args\[0\]\.index: argument index 6/,
      ],
      [
        {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [
            {
              names: ["read"],
              action: "SCMP_ACT_KILL",
              args: [{ index: 0, value: 0, op: "SCMP_CMP_XX" as "SCMP_CMP_EQ" }],
            },
          ],
        },
        /args\[0\]\.op: unknown operator/,
      ],
      [
        { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_VAX"] },
        /architectures\[0\]: unknown architecture/,
      ],
      [{ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_NOPE"] }, /flags\[0\]: unknown flag/],
    ];
    for (const [p, re] of bad) assert.throws(() => compileSeccomp(p, X64), re);
  });

  test("flags map to SECCOMP_FILTER_FLAG_* bits; WAIT_KILLABLE_RECV without a listener is dropped with a warning", () => {
    const r = compileSeccomp(
      {
        defaultAction: "SCMP_ACT_ALLOW",
        flags: [
          "SECCOMP_FILTER_FLAG_TSYNC",
          "SECCOMP_FILTER_FLAG_LOG",
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ],
      },
      X64,
    );
    assert.equal(r.flags, 1 | 2 | 4);
    assert.ok(r.warnings.some((w) => /WAIT_KILLABLE_RECV ignored/.test(w)));
  });
});
