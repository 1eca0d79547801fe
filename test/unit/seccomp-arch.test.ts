// Architecture checks: which ABI a call comes from decides which table applies,
// and ABIs the filter does not cover are killed (libseccomp's bad-arch action).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeRet } from "../../src/oci/seccomp/bpf.js";
import { compileSeccomp, type SeccompProfile } from "../../src/oci/seccomp/index.js";
import { runFilter, type SeccompData } from "../../src/oci/seccomp/interpret.js";
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

function profile(architectures: string[]): SeccompProfile {
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    architectures,
    syscalls: [
      { names: ["getpid", "read", "write", "socketcall", "arch_prctl"], action: "SCMP_ACT_ALLOW" },
      { names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 99 },
    ],
  };
}

function run(p: SeccompProfile, d: SeccompData, native = X64): string {
  return describeRet(runFilter(compileSeccomp(p, native).filter, d));
}

describe("seccomp architecture checks", () => {
  test("an i386 call against an x86_64-only profile is killed", () => {
    const p = profile(["SCMP_ARCH_X86_64"]);
    assert.equal(run(p, { nr: X86_SYSCALLS["getpid"]!, arch: AUDIT_ARCH_I386 }), "KILL_THREAD");
    assert.equal(run(p, { nr: X86_64_SYSCALLS["getpid"]!, arch: AUDIT_ARCH_X86_64 }), "ALLOW");
  });

  test("with SCMP_ARCH_X86 listed, i386 calls use the i386 numbers", () => {
    const p = profile(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
    // getpid is 20 on i386 and 39 on x86_64; 39 on i386 is mkdir.
    assert.equal(run(p, { nr: X86_SYSCALLS["getpid"]!, arch: AUDIT_ARCH_I386 }), "ALLOW");
    assert.equal(run(p, { nr: X86_SYSCALLS["mkdir"]!, arch: AUDIT_ARCH_I386 }), "ERRNO(1)");
    assert.equal(run(p, { nr: X86_SYSCALLS["socketcall"]!, arch: AUDIT_ARCH_I386 }), "ALLOW");
    assert.equal(run(p, { nr: X86_SYSCALLS["getppid"]!, arch: AUDIT_ARCH_I386 }), "ERRNO(99)");
  });

  test("the native ABI is always filtered, even when the profile does not list it (libseccomp)", () => {
    const p = profile(["SCMP_ARCH_X86"]);
    assert.equal(run(p, { nr: X86_64_SYSCALLS["read"]!, arch: AUDIT_ARCH_X86_64 }), "ALLOW");
  });

  test("an x32 call (X32_SYSCALL_BIT set) against an x86_64-only profile is killed", () => {
    const p = profile(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
    assert.equal(run(p, { nr: X32_SYSCALLS["getpid"]!, arch: AUDIT_ARCH_X86_64 }), "KILL_THREAD");
    assert.equal(run(p, { nr: X32_SYSCALL_BIT | 39, arch: AUDIT_ARCH_X86_64 }), "KILL_THREAD");
  });

  test("nr -1 (a tracer skipping the call) is not mistaken for an x32 call", () => {
    const p = profile(["SCMP_ARCH_X86_64"]);
    assert.equal(run(p, { nr: -1, arch: AUDIT_ARCH_X86_64 }), "ERRNO(1)");
  });

  test("with SCMP_ARCH_X32 listed, x32 calls use the x32 table and x86_64 calls still work", () => {
    const p = profile(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    assert.equal(run(p, { nr: X32_SYSCALLS["getpid"]!, arch: AUDIT_ARCH_X86_64 }), "ALLOW");
    assert.equal(run(p, { nr: X32_SYSCALLS["getppid"]!, arch: AUDIT_ARCH_X86_64 }), "ERRNO(99)");
    assert.equal(run(p, { nr: X32_SYSCALLS["mkdir"]!, arch: AUDIT_ARCH_X86_64 }), "ERRNO(1)");
    assert.equal(run(p, { nr: X86_64_SYSCALLS["getppid"]!, arch: AUDIT_ARCH_X86_64 }), "ERRNO(99)");
  });

  test("an x32-only filter (aside from the native one) on an aarch64 host kills x86_64-numbered calls", () => {
    const p = profile(["SCMP_ARCH_X32"]);
    const native = { nativeArch: "SCMP_ARCH_AARCH64" };
    assert.equal(run(p, { nr: 39, arch: AUDIT_ARCH_X86_64 }, native), "KILL_THREAD");
    assert.equal(run(p, { nr: X32_SYSCALLS["getpid"]!, arch: AUDIT_ARCH_X86_64 }, native), "ALLOW");
    assert.equal(run(p, { nr: AARCH64_SYSCALLS["getpid"]!, arch: AUDIT_ARCH_AARCH64 }, native), "ALLOW");
  });

  test("aarch64 uses the asm-generic numbers, and names it lacks are skipped with a warning", () => {
    const p = profile(["SCMP_ARCH_AARCH64"]);
    const r = compileSeccomp(p, { nativeArch: "SCMP_ARCH_AARCH64" });
    assert.equal(describeRet(runFilter(r.filter, { nr: 172, arch: AUDIT_ARCH_AARCH64 })), "ALLOW"); // getpid
    assert.equal(describeRet(runFilter(r.filter, { nr: 63, arch: AUDIT_ARCH_AARCH64 })), "ALLOW"); // read
    assert.equal(describeRet(runFilter(r.filter, { nr: 39, arch: AUDIT_ARCH_X86_64 })), "KILL_THREAD");
    assert.ok(
      r.warnings.some((w) => /unknown syscall "arch_prctl" skipped/.test(w)),
      r.warnings.join("\n"),
    );
  });

  test("an architecture without a table is accepted with a warning; its calls are killed", () => {
    const r = compileSeccomp(profile(["SCMP_ARCH_X86_64", "SCMP_ARCH_ARM"]), X64);
    assert.ok(r.warnings.some((w) => /no syscall table for SCMP_ARCH_ARM/.test(w)));
    assert.equal(describeRet(runFilter(r.filter, { nr: 20, arch: AUDIT_ARCH_ARM })), "KILL_THREAD");
  });

  test("names unknown everywhere, or on one ABI only, are reported", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      syscalls: [{ names: ["read", "no_such_call", "newfstatat", "waitpid"], action: "SCMP_ACT_ALLOW" }],
    };
    const r = compileSeccomp(p, X64);
    assert.ok(
      r.warnings.includes('linux.seccomp.syscalls: unknown syscall "no_such_call" skipped'),
      r.warnings.join("\n"),
    );
    assert.ok(r.warnings.includes("linux.seccomp.syscalls: not on SCMP_ARCH_X86_64, skipped there: waitpid"));
    assert.ok(r.warnings.some((w) => /not on SCMP_ARCH_X86, skipped there: newfstatat/.test(w)));
    assert.equal(
      describeRet(runFilter(r.filter, { nr: X86_SYSCALLS["waitpid"]!, arch: AUDIT_ARCH_I386 })),
      "ALLOW",
    );
  });

  test("ENOSYS for syscalls newer than every syscall the profile names (runc's stub)", () => {
    const p = profile(["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]);
    const newest = X86_64_SYSCALLS["arch_prctl"]!; // the highest number named for x86_64 above
    assert.equal(run(p, { nr: newest + 1, arch: AUDIT_ARCH_X86_64 }), "ERRNO(38)");
    assert.equal(run(p, { nr: newest - 1, arch: AUDIT_ARCH_X86_64 }), "ERRNO(1)");
    assert.equal(run(p, { nr: X32_SYSCALL_BIT + 540, arch: AUDIT_ARCH_X86_64 }), "ERRNO(38)");
    // No stub when the default action allows.
    assert.equal(
      run({ ...p, defaultAction: "SCMP_ACT_ALLOW" }, { nr: 440, arch: AUDIT_ARCH_X86_64 }),
      "ALLOW",
    );
  });

  test("a call from an unknown ABI is killed", () => {
    assert.equal(run(profile([]), { nr: 0, arch: 0x12345678 }), "KILL_THREAD");
  });
});
