// Randomized cross-check: for random profiles with argument rules, the verdict
// of our cBPF interpreter equals what the kernel does with the same bytes.
// Filter actions use errnos >= 100 so that they cannot be confused with the
// kernel's own answers to the (harmless) syscalls that get through.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import {
  SECCOMP_RET_ACTION_FULL,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
} from "../../src/oci/seccomp/bpf.js";
import { compileSeccomp, type SeccompProfile } from "../../src/oci/seccomp/index.js";
import { runFilter } from "../../src/oci/seccomp/interpret.js";
import { AARCH64_SYSCALLS } from "../../src/oci/seccomp/syscalls/aarch64.js";
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64 } from "../../src/oci/seccomp/syscalls/audit-arch.js";
import { X86_64_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86_64.js";

interface Trial {
  result: number;
  errno: number;
  signal: number;
}
type TrialFn = (filter: Uint8Array, flags: number, nr: number, args: bigint[]) => Trial;

function loadTrial(): TrialFn {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "binding.gyp"))) dir = dirname(dir);
  const mod = createRequire(import.meta.url)(join(dir, "build", "Release", "tsshim_native.node")) as Record<
    string,
    unknown
  >;
  return mod["seccompTrial"] as TrialFn;
}

const trial = loadTrial();
const TABLE = process.arch === "arm64" ? AARCH64_SYSCALLS : X86_64_SYSCALLS;
const AUDIT = process.arch === "arm64" ? AUDIT_ARCH_AARCH64 : AUDIT_ARCH_X86_64;
// Calls that change nothing outside the throwaway child, whatever their arguments.
const CALLS = ["getppid", "getpgid", "getsid", "getuid", "getgid", "geteuid", "getpriority", "sched_yield"];

test("random profiles: interpreter verdict == kernel behaviour", () => {
  const value = fc.oneof(
    fc.constantFrom(0n, 1n, 0xffffffffn, 1n << 32n, (1n << 32n) + 1n, 1n << 63n, (1n << 64n) - 1n),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  );
  const op = fc.constantFrom(
    "SCMP_CMP_EQ",
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_GT",
    "SCMP_CMP_GE",
    "SCMP_CMP_MASKED_EQ",
  ) as fc.Arbitrary<"SCMP_CMP_EQ">;
  const action = fc.oneof(
    fc.record({
      action: fc.constant("SCMP_ACT_ERRNO" as const),
      errnoRet: fc.integer({ min: 100, max: 120 }),
    }),
    fc.record({ action: fc.constantFrom("SCMP_ACT_ALLOW" as const, "SCMP_ACT_KILL_PROCESS" as const) }),
  );
  const rule = fc.tuple(
    fc.subarray(CALLS, { minLength: 1, maxLength: 3 }),
    action,
    fc.array(fc.record({ index: fc.integer({ min: 0, max: 2 }), value, valueTwo: value, op }), {
      maxLength: 2,
    }),
  );
  const profile = fc.tuple(action, fc.array(rule, { minLength: 1, maxLength: 6 })).map(
    ([def, rules]): SeccompProfile => ({
      defaultAction: def.action,
      ...("errnoRet" in def ? { defaultErrnoRet: def.errnoRet } : {}),
      // The trial child reports through write(2) and leaves with exit_group(2).
      syscalls: [
        { names: ["write", "exit_group"], action: "SCMP_ACT_ALLOW" },
        ...rules.map(([names, act, args]) => ({ names, ...act, args })),
      ],
    }),
  );
  const call = fc.record({
    name: fc.constantFrom(...CALLS),
    args: fc.array(value, { minLength: 3, maxLength: 3 }),
  });

  fc.assert(
    fc.property(profile, call, (p, c) => {
      const { filter, flags } = compileSeccomp(p);
      const nr = TABLE[c.name]!;
      const want = runFilter(filter, { nr, arch: AUDIT, args: c.args });
      const got = trial(filter, flags, nr, c.args);
      const action = (want & SECCOMP_RET_ACTION_FULL) >>> 0;
      const ctx = JSON.stringify({ nr, args: c.args.map(String), want, got });
      if (action === SECCOMP_RET_ERRNO)
        assert.deepEqual(got, { result: -1, errno: want & 0xffff, signal: 0 }, ctx);
      else if (action === SECCOMP_RET_KILL_PROCESS || action === SECCOMP_RET_KILL_THREAD) {
        assert.equal(got.signal, constants.signals.SIGSYS, ctx);
      } else {
        assert.equal(action, SECCOMP_RET_ALLOW, ctx);
        assert.ok(got.signal === 0 && got.errno < 100, ctx);
      }
    }),
    { numRuns: 400 },
  );
});
