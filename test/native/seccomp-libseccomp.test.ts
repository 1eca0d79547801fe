// Cross-check against libseccomp, the library runc builds its filters with:
// random profiles are built both by our compiler and by the system's
// libseccomp.so.2 (through a small C harness compiled here, rules added the
// way runc adds them), and both programs must give the same verdict for random
// calls from every ABI. Known, intended differences are skipped and counted:
// - runc's ENOSYS stub (ours answers ENOSYS above the newest named syscall,
//   plain libseccomp gives the default action);
// - libseccomp 2.5.4 sometimes emits an arch section without loading the
//   syscall number (it then compares seccomp_data.arch with syscall numbers);
//   such sections are detected in its output and not compared.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { decode, describeRet, type Insn } from "../../src/oci/seccomp/bpf.js";
import { actionValue, compileSeccomp, type SeccompProfile } from "../../src/oci/seccomp/index.js";
import { runFilter } from "../../src/oci/seccomp/interpret.js";
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

const LIB = "/lib/x86_64-linux-gnu/libseccomp.so.2";
const usable = process.arch === "x64" && existsSync(LIB) && spawnSync("gcc", ["--version"]).status === 0;

// Reads "D <default>", "A <arch token>", "R <action> <name> <n> (<arg> <op> <a> <b>)*" lines and
// writes libseccomp's BPF to stdout. Prototypes are declared here: no libseccomp-dev needed.
const HARNESS = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct scmp_arg_cmp { unsigned int arg; int op; uint64_t datum_a; uint64_t datum_b; };
void *seccomp_init(uint32_t def_action);
int seccomp_arch_add(void *ctx, uint32_t arch_token);
int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int n, const struct scmp_arg_cmp *a);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_export_bpf(void *ctx, int fd);
static unsigned long long num(char **save) { return strtoull(strtok_r(NULL, " \n", save), NULL, 0); }
int main(void) {
  char line[8192];
  void *ctx = NULL;
  while (fgets(line, sizeof line, stdin)) {
    char *save, *t = strtok_r(line, " \n", &save);
    if (t == NULL) continue;
    if (t[0] == 'D') ctx = seccomp_init((uint32_t)num(&save));
    else if (t[0] == 'A') {
      int rc = seccomp_arch_add(ctx, (uint32_t)num(&save));
      if (rc < 0 && rc != -17) return 2;
    } else if (t[0] == 'R') {
      uint32_t act = (uint32_t)num(&save);
      char *name = strtok_r(NULL, " \n", &save);
      unsigned n = (unsigned)num(&save);
      struct scmp_arg_cmp c[6];
      for (unsigned i = 0; i < n && i < 6; i++) {
        c[i].arg = (unsigned)num(&save);
        c[i].op = (int)num(&save);
        c[i].datum_a = num(&save);
        c[i].datum_b = num(&save);
      }
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == -1) continue; /* unknown name: runc skips it */
      if (seccomp_rule_add_array(ctx, act, nr, n, c) < 0) return 3;
    }
  }
  return seccomp_export_bpf(ctx, 1) < 0 ? 4 : 0;
}
`;

const TOKENS: Record<string, number> = {
  SCMP_ARCH_X86_64: AUDIT_ARCH_X86_64,
  SCMP_ARCH_X86: AUDIT_ARCH_I386,
  SCMP_ARCH_X32: 0x4000003e, // libseccomp's own token for x32
  SCMP_ARCH_AARCH64: AUDIT_ARCH_AARCH64,
};
const OPS: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};
const ABIS: [Readonly<Record<string, number>>, number, number][] = [
  [X86_64_SYSCALLS, AUDIT_ARCH_X86_64, 0],
  [X86_SYSCALLS, AUDIT_ARCH_I386, 0],
  [X32_SYSCALLS, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT],
  [AARCH64_SYSCALLS, AUDIT_ARCH_AARCH64, 0],
  [{}, AUDIT_ARCH_ARM, 0],
];
const POOL = [
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
  "futex",
  "_llseek",
  "waitpid",
  "nosuch",
];

let dir = "";
let harness = "";

before(() => {
  if (!usable) return;
  dir = mkdtempSync(join(tmpdir(), "tsshim-libseccomp-"));
  writeFileSync(join(dir, "harness.c"), HARNESS);
  harness = join(dir, "harness");
  const cc = spawnSync("gcc", ["-O1", "-o", harness, join(dir, "harness.c"), LIB], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
});

after(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

function libseccompFilter(p: SeccompProfile): Insn[] {
  const def = actionValue(p.defaultAction, p.defaultErrnoRet, "default");
  let input = `D ${def}\n`;
  for (const a of p.architectures ?? []) input += `A ${TOKENS[a]}\n`;
  for (const e of p.syscalls ?? []) {
    const act = actionValue(e.action, e.errnoRet, "rule");
    if (act === def) continue; // runc skips these (libseccomp would refuse them)
    const args = (e.args ?? []).map((c) => `${c.index} ${OPS[c.op]} ${c.value} ${c.valueTwo ?? 0}`);
    for (const n of e.names) input += `R ${act} ${n} ${args.length} ${args.join(" ")}\n`;
  }
  const r = spawnSync(harness, { input });
  assert.equal(r.status, 0, `libseccomp harness failed (${r.status}) for\n${input}`);
  return decode(new Uint8Array(r.stdout));
}

/** Arch sections of a libseccomp program that never load the syscall number. */
function brokenSections(insns: readonly Insn[]): Set<number> {
  const broken = new Set<number>();
  // The arch dispatch: a chain of JEQs on A = arch, each false branch leading to the next.
  for (let pc = 1; pc < insns.length && insns[pc]!.code === 0x15; ) {
    const jeq = insns[pc]!;
    const target = insns[pc + 1 + jeq.jt]!;
    if (target.code !== 0x20 || target.k !== 0) broken.add(jeq.k >>> 0);
    pc = pc + 1 + jeq.jf;
  }
  return broken;
}

test("our filters decide like libseccomp's on random profiles and calls", {
  skip: !usable && "needs x86_64, gcc and libseccomp.so.2",
}, (t) => {
  const value = fc.oneof(
    fc.constantFrom(0n, 1n, 7n, 0xffffffffn, 1n << 32n, (1n << 32n) + 7n, 1n << 63n, (1n << 64n) - 1n),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  );
  const action = fc.constantFrom(
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
  ) as fc.Arbitrary<"SCMP_ACT_ALLOW">;
  const op = fc.constantFrom(...Object.keys(OPS)) as fc.Arbitrary<"SCMP_CMP_EQ">;
  // One entry per syscall (libseccomp has no rule order; runc-style same-action rules only)
  // and each argument tested once per rule (libseccomp's limit).
  const rules = fc.uniqueArray(
    fc.record({
      name: fc.constantFrom(...POOL),
      action,
      errnoRet: fc.integer({ min: 0, max: 4 }),
      args: fc.uniqueArray(fc.record({ index: fc.integer({ min: 0, max: 5 }), value, valueTwo: value, op }), {
        maxLength: 3,
        selector: (a) => a.index,
      }),
    }),
    { maxLength: 10, selector: (r) => r.name },
  );
  const profile = fc
    .record({
      defaultAction: action,
      defaultErrnoRet: fc.integer({ min: 0, max: 40 }),
      architectures: fc.subarray(Object.keys(TOKENS)),
      rules,
    })
    .map(
      ({ rules: rs, ...rest }): SeccompProfile => ({
        ...rest,
        syscalls: rs.map((r) => ({ names: [r.name], action: r.action, errnoRet: r.errnoRet, args: r.args })),
      }),
    );
  const call = fc.record({
    abi: fc.integer({ min: 0, max: ABIS.length - 1 }),
    name: fc.constantFrom(...POOL),
    raw: fc.integer({ min: 0, max: 600 }),
    args: fc.array(value, { minLength: 6, maxLength: 6 }),
  });

  const counts = { compared: 0, enosysStub: 0, libseccompBug: 0 };
  fc.assert(
    fc.property(profile, fc.array(call, { minLength: 30, maxLength: 30 }), (p, calls) => {
      const theirs = libseccompFilter(p);
      const broken = brokenSections(theirs);
      const ours = compileSeccomp(p, { nativeArch: "SCMP_ARCH_X86_64" }).filter;
      const def = describeRet(actionValue(p.defaultAction, p.defaultErrnoRet, "default"));
      for (const c of calls) {
        const [table, audit, bit] = ABIS[c.abi]!;
        const d = { nr: table[c.name] ?? bit | c.raw, arch: audit, args: c.args };
        if (broken.has(audit >>> 0)) {
          counts.libseccompBug++;
          continue;
        }
        const a = describeRet(runFilter(ours, d));
        const b = describeRet(runFilter(theirs, d));
        if (a === "ERRNO(38)" && b === def) {
          counts.enosysStub++;
          continue;
        }
        counts.compared++;
        assert.equal(a, b, JSON.stringify({ call: { ...d, args: c.args.map(String) } }));
      }
    }),
    { numRuns: 400 },
  );
  t.diagnostic(JSON.stringify(counts));
  assert.ok(counts.compared > 5000, JSON.stringify(counts));
});
