// The generated syscall tables: spot checks against well-known numbers, and the
// generator reproduces the checked-in files from this machine's headers.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { AARCH64_SYSCALLS } from "../../src/oci/seccomp/syscalls/aarch64.js";
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
} from "../../src/oci/seccomp/syscalls/audit-arch.js";
import { X32_SYSCALLS } from "../../src/oci/seccomp/syscalls/x32.js";
import { X86_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86.js";
import { X86_64_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86_64.js";

test("x86_64, i386 and x32 numbers", () => {
  assert.equal(X86_64_SYSCALLS["read"], 0);
  assert.equal(X86_64_SYSCALLS["execve"], 59);
  assert.equal(X86_64_SYSCALLS["unshare"], 272);
  assert.equal(X86_64_SYSCALLS["clone3"], 435);
  assert.equal(X86_SYSCALLS["execve"], 11);
  assert.equal(X86_SYSCALLS["socketcall"], 102);
  assert.equal(X86_64_SYSCALLS["socketcall"], undefined);
  assert.equal(X32_SYSCALLS["read"], 0x40000000);
  assert.equal(X32_SYSCALLS["execve"], 0x40000000 + 520, "x32 has its own execve in the 512+ range");
});

test("aarch64 follows asm-generic with arm64's choices (renameat, new stat, rlimit, clone3)", () => {
  assert.equal(AARCH64_SYSCALLS["openat"], 56);
  assert.equal(AARCH64_SYSCALLS["getpid"], 172);
  assert.equal(AARCH64_SYSCALLS["renameat"], 38);
  assert.equal(AARCH64_SYSCALLS["newfstatat"], 79);
  assert.equal(AARCH64_SYSCALLS["getrlimit"], 163);
  assert.equal(AARCH64_SYSCALLS["mmap"], 222);
  assert.equal(AARCH64_SYSCALLS["clone3"], 435);
  for (const absent of ["open", "fork", "stat", "fcntl64", "mmap2", "arch_specific_syscall", "syscalls"]) {
    assert.equal(AARCH64_SYSCALLS[absent], undefined, absent);
  }
});

test("AUDIT_ARCH constants", () => {
  assert.equal(AUDIT_ARCH_X86_64, 0xc000003e);
  assert.equal(AUDIT_ARCH_I386, 0x40000003);
  assert.equal(AUDIT_ARCH_AARCH64, 0xc00000b7);
});

test("scripts/gen-syscalls.mjs --check finds the checked-in tables up to date", {
  skip: !existsSync("/usr/include/asm-generic/unistd.h") && "linux-libc-dev not installed",
}, () => {
  const r = spawnSync(process.execPath, ["scripts/gen-syscalls.mjs", "--check"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});
