// A profile shaped like the default that `ctr run --seccomp` and CRI produce
// (default ERRNO, ~300 allowed names, personality and clone with argument
// rules, clone3 answered with ENOSYS), written for this test, checked with the
// interpreter on all three x86 ABIs.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeRet } from "../../src/oci/seccomp/bpf.js";
import { compileSeccomp, type SeccompProfile } from "../../src/oci/seccomp/index.js";
import { runFilter } from "../../src/oci/seccomp/interpret.js";
import { AUDIT_ARCH_I386, AUDIT_ARCH_X86_64 } from "../../src/oci/seccomp/syscalls/audit-arch.js";
import { X32_SYSCALLS } from "../../src/oci/seccomp/syscalls/x32.js";
import { X86_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86.js";
import { X86_64_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86_64.js";

// Privileged or namespace-changing calls an unprivileged container must not make.
const DENIED = new Set([
  "acct",
  "add_key",
  "bpf",
  "clock_adjtime",
  "clock_settime",
  "clone",
  "clone3",
  "create_module",
  "delete_module",
  "fanotify_init",
  "finit_module",
  "fsconfig",
  "fsmount",
  "fsopen",
  "fspick",
  "get_kernel_syms",
  "get_mempolicy",
  "init_module",
  "ioperm",
  "iopl",
  "kcmp",
  "kexec_file_load",
  "kexec_load",
  "keyctl",
  "lookup_dcookie",
  "mbind",
  "mount",
  "mount_setattr",
  "move_mount",
  "move_pages",
  "name_to_handle_at",
  "nfsservctl",
  "open_by_handle_at",
  "open_tree",
  "perf_event_open",
  "personality",
  "pivot_root",
  "process_vm_readv",
  "process_vm_writev",
  "ptrace",
  "query_module",
  "quotactl",
  "quotactl_fd",
  "reboot",
  "request_key",
  "set_mempolicy",
  "setns",
  "settimeofday",
  "swapoff",
  "swapon",
  "_sysctl",
  "syslog",
  "umount",
  "umount2",
  "unshare",
  "uselib",
  "userfaultfd",
  "ustat",
  "vhangup",
  "vm86",
  "vm86old",
]);

const NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

function defaultLikeProfile(): SeccompProfile {
  const allowed = [...new Set([...Object.keys(X86_64_SYSCALLS), ...Object.keys(X86_SYSCALLS)])].filter(
    (n) => !DENIED.has(n),
  );
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: allowed, action: "SCMP_ACT_ALLOW" },
      ...[0, 8, 0x20000, 0x20008, 0xffffffff].map((v) => ({
        names: ["personality"],
        action: "SCMP_ACT_ALLOW" as const,
        args: [{ index: 0, value: v, op: "SCMP_CMP_EQ" as const }],
      })),
      {
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: NS_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      },
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
    ],
  };
}

describe("a default-like profile", () => {
  const r = compileSeccomp(defaultLikeProfile(), { nativeArch: "SCMP_ARCH_X86_64" });
  const x64 = (name: string, args: bigint[] = []) =>
    describeRet(runFilter(r.filter, { nr: X86_64_SYSCALLS[name]!, arch: AUDIT_ARCH_X86_64, args }));

  test("compiles within the kernel's limits", () => {
    const insns = r.filter.length / 8;
    assert.ok(insns < 4096, `${insns} instructions`);
    assert.ok(defaultLikeProfile().syscalls![0]!.names.length > 300);
  });

  test("denies unshare, keyctl, mount, setns, ptrace, bpf with EPERM", () => {
    for (const name of [
      "unshare",
      "keyctl",
      "add_key",
      "mount",
      "umount2",
      "setns",
      "ptrace",
      "bpf",
      "pivot_root",
    ]) {
      assert.equal(x64(name), "ERRNO(1)", name);
    }
  });

  test("allows ordinary calls", () => {
    for (const name of [
      "read",
      "write",
      "openat",
      "close",
      "execve",
      "exit_group",
      "mmap",
      "futex",
      "getpid",
    ]) {
      assert.equal(x64(name), "ALLOW", name);
    }
  });

  test("clone without namespace flags is allowed, with any namespace flag denied", () => {
    assert.equal(x64("clone", [0x01200011n]), "ALLOW"); // CLONE_CHILD_SETTID|CHILD_CLEARTID|SIGCHLD
    assert.equal(x64("clone", [0x003d0f00n]), "ALLOW"); // a pthread_create-style clone
    for (const flag of [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000]) {
      assert.equal(x64("clone", [BigInt(flag | 0x11)]), "ERRNO(1)", `flag 0x${flag.toString(16)}`);
    }
  });

  test("personality only with the listed personas", () => {
    for (const v of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn]) assert.equal(x64("personality", [v]), "ALLOW");
    assert.equal(x64("personality", [0x400000n]), "ERRNO(1)"); // READ_IMPLIES_EXEC
  });

  test("clone3 gets ENOSYS so libc falls back to clone", () => {
    assert.equal(x64("clone3"), "ERRNO(38)");
  });

  test("the same decisions hold for i386 and x32 callers", () => {
    const i386 = (name: string, args: bigint[] = []) =>
      describeRet(runFilter(r.filter, { nr: X86_SYSCALLS[name]!, arch: AUDIT_ARCH_I386, args }));
    const x32 = (name: string, args: bigint[] = []) =>
      describeRet(runFilter(r.filter, { nr: X32_SYSCALLS[name]!, arch: AUDIT_ARCH_X86_64, args }));
    for (const f of [i386, x32]) {
      assert.equal(f("read"), "ALLOW");
      assert.equal(f("unshare"), "ERRNO(1)");
      assert.equal(f("keyctl"), "ERRNO(1)");
      assert.equal(f("clone", [0x11n]), "ALLOW");
      assert.equal(f("clone", [0x10000011n]), "ERRNO(1)");
    }
    assert.equal(i386("socketcall"), "ALLOW");
  });
});
