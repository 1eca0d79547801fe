// Compiles an OCI seccomp profile (linux.seccomp of config.json) into a classic
// BPF program for seccomp(SECCOMP_SET_MODE_FILTER). The native core only
// installs the bytes.
//
// Semantics follow runc + libseccomp, which is what profiles are written for:
// - The native architecture is always filtered; the profile's `architectures`
//   add more. A syscall from an ABI not in the filter gets libseccomp's default
//   "bad arch" action, KILL_THREAD. On x86_64 the x32 ABI shares
//   AUDIT_ARCH_X86_64 and is told apart by X32_SYSCALL_BIT in the number: an
//   x86_64-only filter treats x32 calls as a bad arch, as libseccomp does.
// - Names are resolved per architecture; a name an architecture lacks is
//   skipped there and reported in `warnings`.
// - Several rules for one syscall are tried in profile order and the first
//   whose conditions all hold decides (runtime-spec: "only the first entry is
//   effective"); none holding means the default action.
// - A rule whose action equals the default action is dropped (runc skips it).
// - Conditions of one rule are ANDed, unless two of them test the same
//   argument: then, like runc, each condition becomes a rule of its own (OR).
// - Arguments are compared as 64-bit values (two 32-bit halves); on 32-bit
//   ABIs (x86, x32, arm) only the low half, like libseccomp. MASKED_EQ is
//   (arg & value) == (valueTwo & value), libseccomp's reading.
// - When the default action denies, a syscall newer than every syscall the
//   profile names gets ENOSYS instead of the default (runc's -ENOSYS stub), so
//   libc falls back from calls the profile author did not know of (clone3).
import type { LinuxSeccompAction, LinuxSeccompOperator } from "../spec.js";
import { type ArchInfo, lookupArch, nativeArchToken } from "./arch.js";
import { type Label, ProgramBuilder } from "./assemble.js";
import {
  argWordOffset,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_MAXINSNS,
  encode,
  OFF_ARCH,
  OFF_NR,
  SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_TSYNC,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
} from "./bpf.js";
import { X32_SYSCALL_BIT } from "./syscalls/audit-arch.js";

/** One argument condition; values may be bigint so that full 64-bit constants survive. */
export interface SeccompArgInput {
  index: number;
  value: number | bigint;
  valueTwo?: number | bigint;
  op: LinuxSeccompOperator;
}

export interface SeccompSyscallInput {
  names: string[];
  action: LinuxSeccompAction;
  errnoRet?: number;
  args?: SeccompArgInput[];
}

/** linux.seccomp; the spec's LinuxSeccomp is assignable to it. */
export interface SeccompProfile {
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscallInput[];
}

export interface CompileOptions {
  /** libseccomp token of the native ABI; defaults to this process's architecture. */
  nativeArch?: string;
}

export interface CompiledSeccomp {
  /** struct sock_filter[] in host byte order. */
  filter: Uint8Array;
  /** SECCOMP_FILTER_FLAG_* for seccomp(2). */
  flags: number;
  warnings: string[];
}

/** A profile that cannot be compiled; `field` names the offending part of config.json. */
export class SeccompCompileError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "SeccompCompileError";
  }
}

const EPERM = 1;
const ENOSYS = 38;
const MASK32 = 0xffffffffn;
const U64_MAX = (1n << 64n) - 1n;

interface Cond {
  index: number;
  op: LinuxSeccompOperator;
  value: bigint;
  valueTwo: bigint;
}

interface Rule {
  conds: Cond[];
  ret: number;
  args32: boolean;
}

interface Entry {
  nr: number;
  rules: Rule[];
}

interface Section {
  audit: number;
  tables: ArchInfo[];
  entries: Entry[];
  /** Largest syscall number the profile names, per table token. */
  max: Map<string, number>;
}

/** Like libseccomp's SCMP_ACT_*: the filter return value of an OCI action. */
export function actionValue(action: string, errnoRet: number | undefined, field: string): number {
  const data = (): number => {
    if (errnoRet === undefined) return EPERM;
    if (!Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 0xffff) {
      throw new SeccompCompileError(field, `errnoRet ${errnoRet} is not an integer in 0..65535`);
    }
    return errnoRet;
  };
  switch (action) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SECCOMP_RET_KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SECCOMP_RET_KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SECCOMP_RET_TRAP;
    case "SCMP_ACT_ERRNO":
      return (SECCOMP_RET_ERRNO | data()) >>> 0;
    case "SCMP_ACT_TRACE":
      return (SECCOMP_RET_TRACE | data()) >>> 0;
    case "SCMP_ACT_ALLOW":
      return SECCOMP_RET_ALLOW;
    case "SCMP_ACT_LOG":
      return SECCOMP_RET_LOG;
    case "SCMP_ACT_NOTIFY":
      throw new SeccompCompileError(
        field,
        "SCMP_ACT_NOTIFY is not supported: tsshim has no seccomp user-notification listener",
      );
    default:
      throw new SeccompCompileError(field, `unknown seccomp action ${JSON.stringify(action)}`);
  }
}

const FLAG_BITS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: SECCOMP_FILTER_FLAG_TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG_SPEC_ALLOW,
};

const OPS = new Set<string>([
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
]);

function u64(v: number | bigint | undefined, field: string, warnings: string[]): bigint {
  if (v === undefined) return 0n;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new SeccompCompileError(field, `${v} is not an integer`);
    if (!Number.isSafeInteger(v)) {
      warnings.push(`${field}: ${v} is beyond 2^53 and may have lost precision in JSON; pass a bigint`);
    }
  }
  const b = BigInt(v);
  if (b > U64_MAX) return U64_MAX;
  return BigInt.asUintN(64, b);
}

/** The condition lists of one syscall entry: one AND-list, or single conditions ORed (runc). */
function conditionSets(entry: SeccompSyscallInput, field: string, warnings: string[]): Cond[][] {
  const args = entry.args ?? [];
  const conds = args.map((a, j): Cond => {
    const f = `${field}.args[${j}]`;
    if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
      throw new SeccompCompileError(`${f}.index`, `argument index ${a.index} is not in 0..5`);
    }
    if (!OPS.has(a.op)) throw new SeccompCompileError(`${f}.op`, `unknown operator ${JSON.stringify(a.op)}`);
    return {
      index: a.index,
      op: a.op,
      value: u64(a.value, `${f}.value`, warnings),
      valueTwo: u64(a.valueTwo, `${f}.valueTwo`, warnings),
    };
  });
  const seen = new Set<number>();
  const repeats = conds.some((c) => seen.size === seen.add(c.index).size);
  return repeats ? conds.map((c) => [c]) : [conds];
}

// Containers on one node mostly share a profile (the runtime default): keep the
// last few compilations, keyed by the profile's JSON.
const CACHE_SIZE = 8;
const cache = new Map<string, CompiledSeccomp>();

function cacheKey(profile: SeccompProfile, native: string): string {
  return `${native}\n${JSON.stringify(profile, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`;
}

function copy(c: CompiledSeccomp): CompiledSeccomp {
  return { filter: c.filter.slice(), flags: c.flags, warnings: [...c.warnings] };
}

export function compileSeccomp(profile: SeccompProfile, options: CompileOptions = {}): CompiledSeccomp {
  const native = options.nativeArch ?? nativeArchToken();
  const key = cacheKey(profile, native);
  const hit = cache.get(key);
  if (hit !== undefined) return copy(hit);
  const compiled = compileUncached(profile, native);
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, compiled);
  return copy(compiled);
}

function compileUncached(profile: SeccompProfile, native: string): CompiledSeccomp {
  const warnings: string[] = [];
  const defaultRet = actionValue(
    profile.defaultAction,
    profile.defaultErrnoRet,
    "linux.seccomp.defaultAction",
  );

  let flags = 0;
  (profile.flags ?? []).forEach((flag, i) => {
    const bit = FLAG_BITS[flag];
    if (bit !== undefined) flags |= bit;
    else if (flag === "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
      // Only meaningful with a user-notification listener, which we never create;
      // the kernel rejects the flag without one.
      warnings.push(`linux.seccomp.flags[${i}]: ${flag} ignored: no seccomp listener is used`);
    } else throw new SeccompCompileError(`linux.seccomp.flags[${i}]`, `unknown flag ${JSON.stringify(flag)}`);
  });
  if (profile.listenerPath !== undefined) {
    warnings.push("linux.seccomp.listenerPath ignored: no SCMP_ACT_NOTIFY rule can be compiled");
  }

  // Architectures: native first (most calls take the first arch test), then the profile's.
  const tokens = [...new Set([native, ...(profile.architectures ?? [])])];
  const tables: ArchInfo[] = [];
  tokens.forEach((token, i) => {
    const field =
      i === 0
        ? "native architecture"
        : `linux.seccomp.architectures[${profile.architectures!.indexOf(token)}]`;
    const found = lookupArch(token);
    if (found.kind === "table") tables.push(found.arch);
    else if (found.kind === "no-table") {
      if (i === 0) throw new SeccompCompileError(field, `no syscall table for ${token}`);
      warnings.push(`${field}: no syscall table for ${token}; its syscalls get the bad-arch action (kill)`);
    } else throw new SeccompCompileError(field, `unknown architecture ${JSON.stringify(token)}`);
  });

  // Resolve every rule on every table, in profile order.
  const perTable = new Map<string, Map<number, Rule[]>>(tables.map((t) => [t.token, new Map()]));
  const maxNr = new Map<string, number>();
  const missing = new Map<string, Set<string>>(tables.map((t) => [t.token, new Set()]));
  const unknownEverywhere = new Set<string>();
  (profile.syscalls ?? []).forEach((entry, i) => {
    const field = `linux.seccomp.syscalls[${i}]`;
    const ret = actionValue(entry.action, entry.errnoRet, `${field}.action`);
    const sets = conditionSets(entry, field, warnings);
    for (const name of entry.names) {
      let known = false;
      for (const t of tables) {
        const nr = t.syscalls![name];
        if (nr === undefined) {
          missing.get(t.token)!.add(name);
          continue;
        }
        known = true;
        maxNr.set(t.token, Math.max(maxNr.get(t.token) ?? -1, nr));
        if (ret === defaultRet) continue;
        const byNr = perTable.get(t.token)!;
        let rules = byNr.get(nr);
        if (rules === undefined) {
          rules = [];
          byNr.set(nr, rules);
        }
        // After an unconditional rule nothing later can match.
        if (rules.length > 0 && rules[rules.length - 1]!.conds.length === 0) continue;
        for (const conds of sets) rules.push({ conds, ret, args32: t.args32 });
      }
      if (!known) unknownEverywhere.add(name);
    }
  });
  for (const name of unknownEverywhere) {
    warnings.push(`linux.seccomp.syscalls: unknown syscall ${JSON.stringify(name)} skipped`);
  }
  for (const t of tables) {
    const names = [...missing.get(t.token)!].filter((n) => !unknownEverywhere.has(n));
    if (names.length > 0) {
      warnings.push(`linux.seccomp.syscalls: not on ${t.token}, skipped there: ${names.join(", ")}`);
    }
  }

  // One section per seccomp_data.arch value; x86_64 and x32 share one.
  const sections: Section[] = [];
  for (const t of tables) {
    let s = sections.find((x) => x.audit === t.audit);
    if (s === undefined) {
      s = { audit: t.audit, tables: [], entries: [], max: new Map() };
      sections.push(s);
    }
    s.tables.push(t);
    for (const [nr, rules] of perTable.get(t.token)!) if (rules.length > 0) s.entries.push({ nr, rules });
    const m = maxNr.get(t.token);
    if (m !== undefined) s.max.set(t.token, m);
  }
  for (const s of sections) s.entries.sort((a, b) => a.nr - b.nr);

  const denies = ![SECCOMP_RET_ALLOW, SECCOMP_RET_LOG].includes(defaultRet) && !isTrace(defaultRet);
  const enosysStub = denies && defaultRet !== (SECCOMP_RET_ERRNO | ENOSYS) >>> 0;

  const insns = generate(sections, defaultRet, enosysStub);
  if (insns.length > BPF_MAXINSNS) {
    throw new SeccompCompileError(
      "linux.seccomp",
      `the profile compiles to ${insns.length} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS}`,
    );
  }
  return { filter: encode(insns), flags, warnings };
}

function isTrace(ret: number): boolean {
  return (ret & 0xffff0000) >>> 0 === SECCOMP_RET_TRACE;
}

function generate(sections: readonly Section[], defaultRet: number, enosysStub: boolean) {
  const p = new ProgramBuilder();
  const badArch = p.label();
  const retDefault = p.label();
  const starts = sections.map(() => p.label());

  p.load(OFF_ARCH);
  sections.forEach((s, i) => {
    const next = p.label();
    p.jump(BPF_JEQ, s.audit, starts[i]!, next);
    p.place(next);
  });
  p.ret(SECCOMP_RET_KILL_THREAD);

  sections.forEach((s, i) => {
    p.place(starts[i]!);
    p.load(OFF_NR);
    const has = (token: string) => s.tables.some((t) => t.token === token);
    const x86_64 = has("SCMP_ARCH_X86_64");
    const x32 = has("SCMP_ARCH_X32");
    const afterAbi = p.label();
    if (x86_64 && !x32) {
      // x32 calls are a foreign ABI here, except nr -1 (a tracer skipping the call).
      const x32Call = p.label();
      p.jump(BPF_JGE, X32_SYSCALL_BIT, x32Call, afterAbi);
      p.place(x32Call);
      p.jump(BPF_JEQ, 0xffffffff, retDefault, badArch);
    } else if (x32 && !x86_64) {
      p.jump(BPF_JGE, X32_SYSCALL_BIT, afterAbi, badArch);
    }
    p.place(afterAbi);

    searchTree(p, intervals(s, defaultRet, enosysStub), defaultRet);
  });

  p.place(badArch);
  p.ret(SECCOMP_RET_KILL_THREAD);
  p.place(retDefault);
  p.ret(defaultRet);
  return p.assemble();
}

type Decision = { kind: "ret"; ret: number } | { kind: "rules"; rules: Rule[] };

/** Syscall numbers lo..hi (inclusive, unsigned) all decided the same way. */
interface Interval {
  lo: number;
  hi: number;
  d: Decision;
}

const NR_MAX = 0xffffffff;

/**
 * Partitions 0..2^32-1 for one section: each named syscall decides its own
 * number, neighbours with the same unconditional action merge, and the gaps get
 * the default action, or ENOSYS above the newest syscall the profile names.
 */
function intervals(s: Section, defaultRet: number, enosysStub: boolean): Interval[] {
  // What an unnamed number gets, per ABI range (x32 numbers carry X32_SYSCALL_BIT).
  const base: { lo: number; hi: number; token: string }[] =
    s.tables.length === 1
      ? [{ lo: 0, hi: NR_MAX, token: s.tables[0]!.token }]
      : [
          { lo: 0, hi: X32_SYSCALL_BIT - 1, token: "SCMP_ARCH_X86_64" },
          { lo: X32_SYSCALL_BIT, hi: NR_MAX, token: "SCMP_ARCH_X32" },
        ];
  const fallback: Interval[] = [];
  const ENOSYS_RET = (SECCOMP_RET_ERRNO | ENOSYS) >>> 0;
  for (const b of base) {
    const max = s.max.get(b.token);
    if (enosysStub && max !== undefined && max < b.hi) {
      fallback.push({ lo: b.lo, hi: max, d: { kind: "ret", ret: defaultRet } });
      fallback.push({ lo: max + 1, hi: b.hi, d: { kind: "ret", ret: ENOSYS_RET } });
    } else fallback.push({ lo: b.lo, hi: b.hi, d: { kind: "ret", ret: defaultRet } });
  }

  const out: Interval[] = [];
  const push = (lo: number, hi: number, d: Decision) => {
    const last = out.at(-1);
    if (last?.d.kind === "ret" && d.kind === "ret" && last.d.ret === d.ret && last.hi + 1 === lo)
      last.hi = hi;
    else out.push({ lo, hi, d });
  };
  const fill = (lo: number, hi: number) => {
    for (const f of fallback) {
      const a = Math.max(lo, f.lo);
      const z = Math.min(hi, f.hi);
      if (a <= z) push(a, z, f.d);
    }
  };
  let next = 0;
  for (const e of s.entries) {
    if (e.nr > next) fill(next, e.nr - 1);
    const first = e.rules[0]!;
    push(
      e.nr,
      e.nr,
      first.conds.length === 0 ? { kind: "ret", ret: first.ret } : { kind: "rules", rules: e.rules },
    );
    next = e.nr + 1;
  }
  if (next <= NR_MAX) fill(next, NR_MAX);
  return out;
}

/**
 * A binary search over the intervals (A holds nr): every inner node is one JGE
 * on the first number of its right half, every leaf is one RET or the argument
 * checks of one syscall.
 */
function searchTree(p: ProgramBuilder, iv: readonly Interval[], defaultRet: number): void {
  if (iv.length > 1) {
    const mid = iv.length >> 1;
    const right = p.label();
    const left = p.label();
    p.jump(BPF_JGE, iv[mid]!.lo, right, left);
    p.place(left);
    searchTree(p, iv.slice(0, mid), defaultRet);
    p.place(right);
    searchTree(p, iv.slice(mid), defaultRet);
    return;
  }
  const d = iv[0]!.d;
  if (d.kind === "ret") {
    p.ret(d.ret);
    return;
  }
  for (const rule of d.rules) {
    if (rule.conds.length === 0) {
      p.ret(rule.ret);
      return;
    }
    const nextRule = p.label();
    for (const c of rule.conds) condition(p, c, rule.args32, nextRule);
    p.ret(rule.ret);
    p.place(nextRule);
  }
  p.ret(defaultRet);
}

/** Falls through when the condition holds, jumps to `fail` when it does not. Clobbers A. */
function condition(p: ProgramBuilder, c: Cond, args32: boolean, fail: Label): void {
  const pass = p.label();
  const lo = Number(c.value & MASK32);
  const hi = Number((c.value >> 32n) & MASK32);
  const datum = c.op === "SCMP_CMP_MASKED_EQ" ? c.valueTwo & c.value : c.valueTwo;
  const lo2 = Number(datum & MASK32);
  const hi2 = Number((datum >> 32n) & MASK32);
  const ldLo = () => p.load(argWordOffset(c.index, 0));
  const ldHi = () => p.load(argWordOffset(c.index, 1));

  // Each op: the high-word test (64-bit ABIs only) decides unless the high words are equal.
  switch (c.op) {
    case "SCMP_CMP_EQ":
    case "SCMP_CMP_NE": {
      const [onEq, onNe] = c.op === "SCMP_CMP_EQ" ? [pass, fail] : [fail, pass];
      if (!args32) {
        const l = p.label();
        ldHi();
        p.jump(BPF_JEQ, hi, l, onNe);
        p.place(l);
      }
      ldLo();
      p.jump(BPF_JEQ, lo, onEq, onNe);
      break;
    }
    case "SCMP_CMP_MASKED_EQ": {
      // Like libseccomp, the datum is masked too: (arg & value) == (valueTwo & value).
      if (!args32) {
        const l = p.label();
        ldHi();
        p.and(hi);
        p.jump(BPF_JEQ, hi2, l, fail);
        p.place(l);
      }
      ldLo();
      p.and(lo);
      p.jump(BPF_JEQ, lo2, pass, fail);
      break;
    }
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE":
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE": {
      // GT/GE hold when the test below succeeds; LT/LE are their negations (LT = !GE, LE = !GT).
      const greater = c.op === "SCMP_CMP_GT" || c.op === "SCMP_CMP_GE";
      const [yes, no] = greater ? [pass, fail] : [fail, pass];
      const loOp = c.op === "SCMP_CMP_GT" || c.op === "SCMP_CMP_LE" ? BPF_JGT : BPF_JGE;
      if (!args32) {
        const hiNotGreater = p.label();
        const hiEqual = p.label();
        ldHi();
        p.jump(BPF_JGT, hi, yes, hiNotGreater);
        p.place(hiNotGreater);
        p.jump(BPF_JEQ, hi, hiEqual, no);
        p.place(hiEqual);
      }
      ldLo();
      p.jump(loOp, lo, yes, no);
      break;
    }
  }
  p.place(pass);
}
