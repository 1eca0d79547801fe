// The compiled filters on the real kernel: `seccompTrial` forks a child that
// installs the filter and makes one syscall; we check the errno it got or the
// signal that killed it.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { compileSeccomp, type SeccompProfile } from "../../src/oci/seccomp/index.js";
import { AARCH64_SYSCALLS } from "../../src/oci/seccomp/syscalls/aarch64.js";
import { X32_SYSCALLS } from "../../src/oci/seccomp/syscalls/x32.js";
import { X86_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86.js";
import { X86_64_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86_64.js";

interface Trial {
  result: number;
  errno: number;
  signal: number;
}
type TrialFn = (filter: Uint8Array, flags: number, nr: number, args: bigint[], abi?: "i386") => Trial;

function loadTrial(): TrialFn {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "binding.gyp"))) dir = dirname(dir);
  const mod = createRequire(import.meta.url)(join(dir, "build", "Release", "tsshim_native.node")) as Record<
    string,
    unknown
  >;
  assert.equal(typeof mod["seccompTrial"], "function", "the addon exports seccompTrial");
  return mod["seccompTrial"] as TrialFn;
}

const trial = loadTrial();
const NATIVE = process.arch === "arm64" ? AARCH64_SYSCALLS : X86_64_SYSCALLS;
const { EPERM, EBADF, EINVAL, ENOSYS } = constants.errno;
const SIGSYS = constants.signals.SIGSYS;
const CLONE_SIGHAND = 0x800n;
const CLONE_NEWUSER = 0x10000000n;
const CLONE_NEWUTS = 0x04000000n;
const NS_FLAGS = 0x7e020000;

function call(profile: SeccompProfile, name: string, args: bigint[] = [], flags?: number): Trial {
  const c = compileSeccomp(profile);
  const nr = NATIVE[name];
  assert.ok(nr !== undefined, `${name} exists on ${process.arch}`);
  return trial(c.filter, flags ?? c.flags, nr, args);
}

const denied = (t: Trial, errno: number) => assert.deepEqual(t, { result: -1, errno, signal: 0 });
const allowed = (t: Trial) => assert.ok(t.signal === 0 && t.errno !== EPERM, JSON.stringify(t));

// Default-like: ERRNO by default, everything but a privileged set allowed,
// clone only without namespace flags, personality only for listed personas.
const PRIVILEGED = new Set([
  "unshare",
  "keyctl",
  "add_key",
  "request_key",
  "mount",
  "umount2",
  "setns",
  "bpf",
  "ptrace",
  "pivot_root",
  "personality",
  "clone",
  "clone3",
  "reboot",
  "init_module",
  "kexec_load",
]);
const defaultLike: SeccompProfile = {
  defaultAction: "SCMP_ACT_ERRNO",
  architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
  syscalls: [
    {
      names: [...new Set([...Object.keys(NATIVE), ...Object.keys(X86_SYSCALLS)])].filter(
        (n) => !PRIVILEGED.has(n),
      ),
      action: "SCMP_ACT_ALLOW",
    },
    ...[0, 8, 0xffffffff].map((v) => ({
      names: ["personality"],
      action: "SCMP_ACT_ALLOW" as const,
      args: [{ index: 0, value: v, op: "SCMP_CMP_EQ" as const }],
    })),
    {
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: NS_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    },
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
  ],
};

describe("seccomp filters on the real kernel", () => {
  after(() => {
    // seccompTrial reaps its child: nothing is left behind.
    const kids = readFileSync(`/proc/self/task/${process.pid}/children`, "utf8").trim();
    assert.equal(kids, "", "no child processes remain");
  });

  test("the default-like profile denies unshare, keyctl, mount, setns with EPERM", () => {
    denied(call(defaultLike, "unshare", [CLONE_NEWUTS]), EPERM);
    denied(call(defaultLike, "keyctl", [0n]), EPERM);
    denied(call(defaultLike, "mount", [0n, 0n, 0n, 0n, 0n]), EPERM);
    denied(call(defaultLike, "setns", [0n, 0n]), EPERM);
    denied(call(defaultLike, "personality", [0x400000n]), EPERM);
  });

  test("the default-like profile allows read, write, getpid and namespace-free clone", () => {
    denied(call(defaultLike, "read", [0xffffffffn, 0n, 0n]), EBADF); // reached the kernel
    denied(call(defaultLike, "write", [0xffffffffn, 0n, 0n]), EBADF);
    const pid = call(defaultLike, "getpid");
    assert.ok(pid.result > 0 && pid.errno === 0 && pid.signal === 0, JSON.stringify(pid));
    // CLONE_SIGHAND without CLONE_VM passes the filter and is refused by the kernel itself.
    denied(call(defaultLike, "clone", [CLONE_SIGHAND]), EINVAL);
    denied(call(defaultLike, "clone", [CLONE_SIGHAND | CLONE_NEWUSER]), EPERM);
    allowed(call(defaultLike, "personality", [0xffffffffn]));
  });

  test("clone3 and syscalls newer than the profile get ENOSYS, not EPERM", () => {
    denied(call(defaultLike, "clone3", [0n, 0n]), ENOSYS);
    // One past the newest syscall the profile names: the filter answers, whatever the kernel has.
    const newest = Math.max(...Object.values(NATIVE));
    const c = compileSeccomp(defaultLike);
    denied(trial(c.filter, c.flags, newest + 1, []), ENOSYS);
  });

  test("SCMP_ACT_ERRNO returns errnoRet; the default errno is EPERM", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 42 },
        { names: ["getpgid"], action: "SCMP_ACT_ERRNO" },
      ],
    };
    denied(call(p, "getppid"), 42);
    denied(call(p, "getpgid", [0n]), EPERM);
    allowed(call(p, "getpid"));
  });

  for (const action of [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
  ] as const) {
    test(`${action} ends the caller with SIGSYS`, () => {
      const t = call(
        { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["getppid"], action }] },
        "getppid",
      );
      assert.equal(t.signal, SIGSYS, JSON.stringify(t));
    });
  }

  test("SCMP_ACT_LOG lets the call through; SCMP_ACT_TRACE without a tracer fails it with ENOSYS", () => {
    const log = call(
      { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["getpid"], action: "SCMP_ACT_LOG" }] },
      "getpid",
    );
    assert.ok(log.result > 0 && log.signal === 0, JSON.stringify(log));
    const trace = call(
      { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["getpid"], action: "SCMP_ACT_TRACE" }] },
      "getpid",
    );
    denied(trace, ENOSYS);
  });

  test("64-bit argument comparisons see both register halves", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        {
          names: ["getppid"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 5,
          args: [{ index: 0, value: 0xffffffffn, op: "SCMP_CMP_GT" }],
        },
        {
          names: ["getpgid"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 6,
          args: [{ index: 2, value: 0xff00000000n, valueTwo: 0x1200000000n, op: "SCMP_CMP_MASKED_EQ" }],
        },
      ],
    };
    denied(call(p, "getppid", [0x100000000n]), 5);
    allowed(call(p, "getppid", [0xffffffffn]));
    denied(call(p, "getpgid", [0n, 0n, 0x12deadbeefn]), 6);
    allowed(call(p, "getpgid", [0n, 0n, 0x13deadbeefn]));
  });

  test("an x32 syscall number against an x86_64-only filter is killed", {
    skip: process.arch !== "x64",
  }, () => {
    const only64 = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"] });
    assert.equal(trial(only64.filter, 0, X32_SYSCALLS["getpid"]!, []).signal, SIGSYS);
    // With x32 in the filter the call reaches the kernel (which may or may not have x32 enabled).
    const with32 = compileSeccomp({
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
    });
    assert.equal(trial(with32.filter, 0, X32_SYSCALLS["getpid"]!, []).signal, 0);
  });

  test("i386 calls (int 0x80): killed by an x86_64-only filter, filtered by i386 numbers when X86 is listed", {
    skip: process.arch !== "x64",
  }, () => {
    const only64 = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"] });
    assert.equal(trial(only64.filter, 0, X86_SYSCALLS["getpid"]!, [], "i386").signal, SIGSYS);
    const c = compileSeccomp(defaultLike);
    const i386 = (name: string, args: bigint[] = []) =>
      trial(c.filter, c.flags, X86_SYSCALLS[name]!, args, "i386");
    const pid = i386("getpid");
    assert.ok(pid.result > 0 && pid.signal === 0, JSON.stringify(pid));
    denied(i386("unshare", [CLONE_NEWUTS]), EPERM);
    denied(i386("keyctl", [0n]), EPERM);
    denied(i386("write", [0xffffffffn, 0n, 0n]), EBADF);
  });

  test("filter flags reach seccomp(2) (TSYNC, LOG)", () => {
    const p: SeccompProfile = {
      defaultAction: "SCMP_ACT_ALLOW",
      flags: ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"],
      syscalls: [{ names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 9 }],
    };
    assert.equal(compileSeccomp(p).flags, 3);
    denied(call(p, "getppid"), 9);
  });

  test("a program the kernel refuses comes back as a structured error", () => {
    assert.throws(
      () => trial(new Uint8Array(8), 0, NATIVE["getpid"]!, []),
      (e: unknown) => e instanceof Error && /SECCOMP_SET_MODE_FILTER.*EINVAL/.test(e.message),
    );
    assert.throws(() => trial(new Uint8Array(12), 0, NATIVE["getpid"]!, []), /1\.\.4096 whole instructions/);
  });
});
