// Program layout: large profiles whose branches reach past cBPF's 255-instruction
// conditional jumps, the 4096-instruction limit, and a randomized comparison of
// the compiled filter against a direct model of the profile's semantics.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { BPF_JA, BPF_JMP, BPF_MAXINSNS, decode, describeRet } from "../../src/oci/seccomp/bpf.js";
import { actionValue, compileSeccomp, type SeccompProfile } from "../../src/oci/seccomp/index.js";
import { checkProgram, runFilter, type SeccompData } from "../../src/oci/seccomp/interpret.js";
import { AARCH64_SYSCALLS } from "../../src/oci/seccomp/syscalls/aarch64.js";
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_ARM,
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  X32_SYSCALL_BIT,
} from "../../src/oci/seccomp/syscalls/audit-arch.js";
import { X32_SYSCALLS } from "../../src/oci/seccomp/syscalls/x32.js";
import { X86_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86.js";
import { X86_64_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86_64.js";

const X64 = { nativeArch: "SCMP_ARCH_X86_64" };
const M32 = 0xffffffffn;

type Table = { token: string; audit: number; nrs: Readonly<Record<string, number>>; args32: boolean };
const TABLES: Table[] = [
  { token: "SCMP_ARCH_X86_64", audit: AUDIT_ARCH_X86_64, nrs: X86_64_SYSCALLS, args32: false },
  { token: "SCMP_ARCH_X86", audit: AUDIT_ARCH_I386, nrs: X86_SYSCALLS, args32: true },
  { token: "SCMP_ARCH_X32", audit: AUDIT_ARCH_X86_64, nrs: X32_SYSCALLS, args32: true },
  { token: "SCMP_ARCH_AARCH64", audit: AUDIT_ARCH_AARCH64, nrs: AARCH64_SYSCALLS, args32: false },
];

/**
 * What the profile means, written directly from the documented semantics
 * (compile.ts header) without any BPF: the reference the filter must agree with.
 */
function model(p: SeccompProfile, d: SeccompData, native: string): number {
  const KILL = 0;
  const def = actionValue(p.defaultAction, p.defaultErrnoRet, "d");
  const tokens = new Set([native, ...(p.architectures ?? [])]);
  const tables = TABLES.filter((t) => tokens.has(t.token));
  const nr = d.nr >>> 0;
  let table: Table | undefined;
  if (d.arch === AUDIT_ARCH_X86_64) {
    const x32 = (nr & X32_SYSCALL_BIT) !== 0;
    table = tables.find((t) => t.token === (x32 ? "SCMP_ARCH_X32" : "SCMP_ARCH_X86_64"));
    if (table === undefined) {
      if (x32 && nr === 0xffffffff && tables.some((t) => t.token === "SCMP_ARCH_X86_64")) return def;
      return KILL;
    }
  } else {
    table = tables.find((t) => t.audit === d.arch);
    if (table === undefined) return KILL;
  }
  const allowLike = [0x7fff0000, 0x7ffc0000].includes(def) || (def & 0xffff0000) >>> 0 === 0x7ff00000;
  if (!allowLike && def !== (0x50000 | 38)) {
    const named = (p.syscalls ?? []).flatMap((s) => s.names).map((n) => table.nrs[n]);
    const max = Math.max(-1, ...named.filter((n): n is number => n !== undefined));
    if (max >= 0 && nr > max) return 0x50000 | 38;
  }
  for (const s of p.syscalls ?? []) {
    if (!s.names.some((n) => table.nrs[n] === nr)) continue;
    const ret = actionValue(s.action, s.errnoRet, "s");
    if (ret === def) continue;
    const args = s.args ?? [];
    const indices = args.map((a) => a.index);
    const sets = new Set(indices).size < indices.length ? args.map((a) => [a]) : [args];
    for (const set of sets) {
      const holds = set.every((c) => {
        const norm = (v: bigint) => (table.args32 ? v & M32 : BigInt.asUintN(64, v));
        const a = norm(d.args?.[c.index] ?? 0n);
        const v = norm(BigInt(c.value));
        const v2 = norm(BigInt(c.valueTwo ?? 0));
        switch (c.op) {
          case "SCMP_CMP_EQ":
            return a === v;
          case "SCMP_CMP_NE":
            return a !== v;
          case "SCMP_CMP_LT":
            return a < v;
          case "SCMP_CMP_LE":
            return a <= v;
          case "SCMP_CMP_GT":
            return a > v;
          case "SCMP_CMP_GE":
            return a >= v;
          case "SCMP_CMP_MASKED_EQ":
            return (a & v) === (v2 & v);
          default:
            return false;
        }
      });
      if (holds) return ret;
    }
  }
  return def;
}

const maxDistance = (filter: Uint8Array) =>
  Math.max(...decode(filter).map((i) => (i.code === (BPF_JMP | BPF_JA) ? i.k : Math.max(i.jt, i.jf))));

describe("seccomp program layout", () => {
  test("a profile with conditional rules on every x86_64 syscall needs long jumps and still decides right", () => {
    const names = Object.keys(X86_64_SYSCALLS);
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: names.map((name, i) => ({
        names: [name],
        action: "SCMP_ACT_ALLOW" as const,
        args: [{ index: i % 6, value: BigInt(i + 1) << 32n, op: "SCMP_CMP_EQ" as const }],
      })),
    };
    const r = compileSeccomp(p, X64);
    const insns = r.filter.length / 8;
    assert.ok(insns > 1000 && insns <= BPF_MAXINSNS, `${insns} instructions`);
    assert.ok(maxDistance(r.filter) > 255, "some JA trampolines jump further than 255");
    checkProgram(decode(r.filter));
    names.forEach((name, i) => {
      const args = [0n, 0n, 0n, 0n, 0n, 0n];
      const d = { nr: X86_64_SYSCALLS[name]!, arch: AUDIT_ARCH_X86_64, args };
      args[i % 6] = BigInt(i + 1) << 32n;
      assert.equal(describeRet(runFilter(r.filter, d)), "ALLOW", name);
      args[i % 6] = BigInt(i + 1);
      assert.equal(describeRet(runFilter(r.filter, d)), "ERRNO(1)", name);
    });
  });

  test("a repeated profile is served from the cache as an independent copy", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        {
          names: ["read"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 1n << 40n, op: "SCMP_CMP_LE" }],
        },
      ],
    };
    const a = compileSeccomp(p, X64);
    a.filter.fill(0);
    a.warnings.push("mutated");
    const b = compileSeccomp(p, X64);
    assert.notDeepEqual(b.filter, a.filter);
    assert.deepEqual(b.warnings, []);
    const other = compileSeccomp({ ...p, defaultErrnoRet: 2 }, X64);
    assert.notDeepEqual(other.filter, b.filter, "a different profile is compiled anew");
  });

  test("a profile beyond 4096 instructions is refused with a clear error", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: Object.keys(X86_64_SYSCALLS).flatMap((name) =>
        [1, 2, 3, 4].map((k) => ({
          names: [name],
          action: "SCMP_ACT_ERRNO" as const,
          errnoRet: k,
          args: [{ index: 0, value: k, op: "SCMP_CMP_GT" as const }],
        })),
      ),
    };
    assert.throws(
      () => compileSeccomp(p, X64),
      /compiles to \d+ BPF instructions, more than the kernel's limit of 4096/,
    );
  });

  test("randomized profiles: the compiled filter agrees with the model on every call", () => {
    const pool = [
      "read",
      "write",
      "openat",
      "open",
      "clone",
      "personality",
      "socketcall",
      "mmap2",
      "ioctl",
      "getpid",
      "kill",
      "bpf",
      "unshare",
      "fstat64",
      "arch_prctl",
      "renameat",
      "io_uring_setup",
      "nosuch",
    ];
    const values = [0n, 1n, 7n, 0xffffffffn, 1n << 32n, (1n << 32n) + 7n, 1n << 63n, (1n << 64n) - 1n];
    const action = fc.constantFrom(
      "SCMP_ACT_ALLOW",
      "SCMP_ACT_ERRNO",
      "SCMP_ACT_KILL",
      "SCMP_ACT_KILL_PROCESS",
      "SCMP_ACT_TRAP",
      "SCMP_ACT_LOG",
      "SCMP_ACT_TRACE",
    ) as fc.Arbitrary<"SCMP_ACT_ALLOW">;
    const op = fc.constantFrom(
      "SCMP_CMP_EQ",
      "SCMP_CMP_NE",
      "SCMP_CMP_LT",
      "SCMP_CMP_LE",
      "SCMP_CMP_GT",
      "SCMP_CMP_GE",
      "SCMP_CMP_MASKED_EQ",
    ) as fc.Arbitrary<"SCMP_CMP_EQ">;
    const value = fc.oneof(fc.constantFrom(...values), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
    const arg = fc.record({ index: fc.integer({ min: 0, max: 2 }), value, valueTwo: value, op });
    const rule = fc.record({
      names: fc.subarray(pool, { minLength: 1, maxLength: 3 }),
      action,
      errnoRet: fc.integer({ min: 0, max: 4 }),
      args: fc.array(arg, { maxLength: 3 }),
    });
    const prof = fc.record({
      defaultAction: action,
      defaultErrnoRet: fc.integer({ min: 0, max: 40 }),
      architectures: fc.subarray(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"]),
      syscalls: fc.array(rule, { maxLength: 12 }),
    });
    const call = fc.record({
      table: fc.constantFrom(...TABLES, undefined),
      name: fc.constantFrom(...pool),
      rawNr: fc.integer({ min: 0, max: 600 }),
      args: fc.array(fc.oneof(fc.constantFrom(...values), value), { minLength: 3, maxLength: 3 }),
    });
    fc.assert(
      fc.property(prof, fc.array(call, { minLength: 20, maxLength: 20 }), (p: SeccompProfile, calls) => {
        const { filter } = compileSeccomp(p, X64);
        for (const c of calls) {
          const nr = c.table?.nrs[c.name] ?? c.rawNr;
          const d: SeccompData = { nr, arch: c.table?.audit ?? AUDIT_ARCH_ARM, args: c.args };
          assert.equal(
            describeRet(runFilter(filter, d)),
            describeRet(model(p, d, "SCMP_ARCH_X86_64")),
            JSON.stringify({ nr, arch: d.arch }),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});
