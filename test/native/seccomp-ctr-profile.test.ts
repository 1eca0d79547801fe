// The default seccomp profile that `ctr` (containerd 1.6) writes into a spec
// with --seccomp, taken from a private containerd, compiled by our compiler and
// loaded into the real kernel: what it must deny is denied, what it must allow
// reaches the kernel.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type CompiledSeccomp, compileSeccomp } from "../../src/oci/seccomp/index.js";
import { X86_64_SYSCALLS } from "../../src/oci/seccomp/syscalls/x86_64.js";
import type { LinuxSeccomp } from "../../src/oci/spec.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";

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

const { EPERM, EBADF, EINVAL, ENOSYS } = constants.errno;

/**
 * The profile `ctr containers create --seccomp` puts in a spec, from a private
 * containerd that is stopped again before anything else runs in this process.
 */
async function defaultProfileFromCtr(): Promise<LinuxSeccomp> {
  const cd: Containerd = await startContainerd();
  try {
    const image = await importBusyboxImage(cd);
    const created = await cd.ctr(["containers", "create", "--seccomp", image, "seccomp-probe", "/bin/true"]);
    assert.equal(created.code, 0, created.stderr);
    const info = await cd.ctr(["containers", "info", "seccomp-probe"]);
    assert.equal(info.code, 0, info.stderr);
    await cd.ctr(["containers", "delete", "seccomp-probe"]);
    return (JSON.parse(info.stdout) as { Spec: { linux: { seccomp: LinuxSeccomp } } }).Spec.linux.seccomp;
  } finally {
    await cd.stop();
  }
}

describe("containerd's default profile (ctr --seccomp)", {
  skip: process.arch !== "x64" && "x86_64 numbers",
}, () => {
  let profile: LinuxSeccomp;
  let compiled: CompiledSeccomp;
  const trial = loadTrial();

  before(async () => {
    profile = await defaultProfileFromCtr();
    compiled = compileSeccomp(profile);
  });

  const run = (name: string, args: bigint[] = []) =>
    trial(compiled.filter, compiled.flags, X86_64_SYSCALLS[name]!, args);
  const denied = (name: string, args: bigint[], errno: number) =>
    assert.deepEqual(run(name, args), { result: -1, errno, signal: 0 }, name);

  test("is the shape we expect and compiles under the kernel's limit", () => {
    assert.equal(profile.defaultAction, "SCMP_ACT_ERRNO");
    assert.ok(profile.architectures?.includes("SCMP_ARCH_X86_64"));
    assert.ok((profile.syscalls ?? []).reduce((n, s) => n + s.names.length, 0) > 300);
    const insns = compiled.filter.length / 8;
    assert.ok(insns > 0 && insns <= 4096, `${insns} instructions`);
    // Only names no table knows (libseccomp pseudo-calls) may be unknown everywhere.
    const unknown = compiled.warnings.filter((w) => /unknown syscall/.test(w));
    assert.ok(
      unknown.every((w) => /"(recv|send)"/.test(w)),
      unknown.join("\n"),
    );
  });

  test("denies unshare, keyctl, mount, setns, namespace clones and odd personalities with EPERM", () => {
    denied("unshare", [0x04000000n], EPERM);
    denied("keyctl", [0n], EPERM);
    denied("mount", [0n, 0n, 0n, 0n, 0n], EPERM);
    denied("setns", [0n, 0n], EPERM);
    denied("clone", [0x10000800n], EPERM); // CLONE_NEWUSER
    denied("personality", [0x400000n], EPERM);
  });

  test("allows read, write, getpid, plain clone; clone3 gets ENOSYS", () => {
    denied("read", [0xffffffffn], EBADF);
    denied("write", [0xffffffffn], EBADF);
    denied("clone", [0x800n], EINVAL); // passes the filter, refused by the kernel
    denied("clone3", [0n, 0n], ENOSYS);
    const pid = run("getpid");
    assert.ok(pid.result > 0 && pid.signal === 0, JSON.stringify(pid));
  });
});
