// The cgroup v2 device policy: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE generated
// from the spec's ordered rule list (pure; loaded natively with bpf(2)).
//
// Semantics: each requested access bit (mknod, read, write) is decided on its own by the LAST
// rule that matches the device's type, major and minor and names that bit; a bit no rule
// names is denied. All requested bits must be allowed. For the lists runtimes write (deny all,
// then allows, then specific denies) this is what the v1 kernel list does; where v1 would keep
// a wildcard allow despite a narrower deny written after it ("hole punching", which v1 ignores),
// this program denies, which is the stricter reading.
//
// The kernel's context (struct bpf_cgroup_dev_ctx): u32 access_type = access << 16 | type,
// u32 major, u32 minor; type BPF_DEVCG_DEV_BLOCK 1 / CHAR 2; access MKNOD 1, READ 2, WRITE 4.

import type { LinuxDeviceCgroup } from "../spec.js";

export const DEV_BLOCK = 1;
export const DEV_CHAR = 2;
export const ACC_MKNOD = 1;
export const ACC_READ = 2;
export const ACC_WRITE = 4;

/** One eBPF instruction (struct bpf_insn). */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Opcodes used (class | op | source).
export const OP = {
  LDXW: 0x61, // dst = *(u32 *)(src + off)
  AND32K: 0x54, // dst = (u32)dst & imm
  RSH32K: 0x74, // dst = (u32)dst >> imm
  MOV64K: 0xb7, // dst = imm
  JA: 0x05, // pc += off
  JNEK: 0x55, // if dst != imm: pc += off
  JSETK: 0x45, // if dst & imm: pc += off
  EXIT: 0x95, // return r0
} as const;

const R0 = 0;
const R1 = 1; // context
const R_TYPE = 2;
const R_ACCESS = 3;
const R_MAJOR = 4;
const R_MINOR = 5;

type Item = { insn: Insn; label?: string };

class Asm {
  readonly items: Item[] = [];
  private readonly labels = new Map<string, number>();

  emit(code: number, dst = 0, src = 0, off = 0, imm = 0, label?: string): void {
    const item: Item = { insn: { code, dst, src, off, imm } };
    if (label !== undefined) item.label = label;
    this.items.push(item);
  }

  /** A jump whose offset is resolved to `label` at the end. */
  jump(code: number, dst: number, imm: number, label: string): void {
    this.emit(code, dst, 0, 0, imm, label);
  }

  mark(label: string): void {
    this.labels.set(label, this.items.length);
  }

  resolve(): Insn[] {
    return this.items.map((it, pc) => {
      if (it.label === undefined) return it.insn;
      const to = this.labels.get(it.label);
      if (to === undefined) throw new Error(`device program: unknown label ${it.label}`);
      return { ...it.insn, off: to - pc - 1 };
    });
  }
}

function accessBits(access: string | undefined): number {
  const a = access === undefined || access === "" ? "rwm" : access;
  let bits = 0;
  for (const ch of a) {
    if (ch === "m") bits |= ACC_MKNOD;
    else if (ch === "r") bits |= ACC_READ;
    else if (ch === "w") bits |= ACC_WRITE;
    else throw new Error(`device rule: invalid access ${JSON.stringify(access)}`);
  }
  return bits;
}

function typeCode(type: string | undefined): number | undefined {
  if (type === undefined || type === "a") return undefined;
  if (type === "b") return DEV_BLOCK;
  if (type === "c" || type === "u") return DEV_CHAR;
  throw new Error(`device rule: invalid type ${JSON.stringify(type)}`);
}

const wildcard = (n: number | undefined) => n === undefined || n < 0;

/** The program for an ordered rule list. */
export function deviceProgram(rules: readonly LinuxDeviceCgroup[]): Insn[] {
  const a = new Asm();
  a.emit(OP.LDXW, R_TYPE, R1, 0);
  a.emit(OP.AND32K, R_TYPE, 0, 0, 0xffff);
  a.emit(OP.LDXW, R_ACCESS, R1, 0);
  a.emit(OP.RSH32K, R_ACCESS, 0, 0, 16);
  a.emit(OP.LDXW, R_MAJOR, R1, 4);
  a.emit(OP.LDXW, R_MINOR, R1, 8);
  const bits = [ACC_MKNOD, ACC_READ, ACC_WRITE];
  bits.forEach((bit, i) => {
    const next = `bit${i + 1}`;
    // Skip this block unless the bit is requested.
    a.jump(OP.JSETK, R_ACCESS, bit, `bit${i}-check`);
    a.jump(OP.JA, 0, 0, next);
    a.mark(`bit${i}-check`);
    let decided = false;
    const relevant = rules.filter((r) => (accessBits(r.access) & bit) !== 0);
    for (let k = relevant.length - 1; k >= 0 && !decided; k--) {
      const r = relevant[k]!;
      const skip = `bit${i}-rule${k}-skip`;
      let conditional = false;
      const t = typeCode(r.type);
      if (t !== undefined) {
        a.jump(OP.JNEK, R_TYPE, t, skip);
        conditional = true;
      }
      // A type "a" rule covers every device whatever its numbers say (as v1's "a").
      if (t !== undefined && !wildcard(r.major)) {
        a.jump(OP.JNEK, R_MAJOR, r.major!, skip);
        conditional = true;
      }
      if (t !== undefined && !wildcard(r.minor)) {
        a.jump(OP.JNEK, R_MINOR, r.minor!, skip);
        conditional = true;
      }
      if (r.allow) a.jump(OP.JA, 0, 0, next);
      else {
        a.emit(OP.MOV64K, R0, 0, 0, 0);
        a.emit(OP.EXIT);
      }
      if (conditional) a.mark(skip);
      // The verifier refuses unreachable instructions: nothing may follow an unconditional rule.
      else decided = true;
    }
    if (!decided) {
      a.emit(OP.MOV64K, R0, 0, 0, 0);
      a.emit(OP.EXIT);
    }
    a.mark(next);
  });
  a.emit(OP.MOV64K, R0, 0, 0, 1);
  a.emit(OP.EXIT);
  return a.resolve();
}

/** struct bpf_insn bytes, little-endian (x86_64, arm64). */
export function encodeProgram(insns: readonly Insn[]): Uint8Array {
  const buf = new Uint8Array(insns.length * 8);
  const view = new DataView(buf.buffer);
  insns.forEach((x, i) => {
    view.setUint8(i * 8, x.code);
    view.setUint8(i * 8 + 1, (x.src << 4) | (x.dst & 0xf));
    view.setInt16(i * 8 + 2, x.off, true);
    view.setInt32(i * 8 + 4, x.imm, true);
  });
  return buf;
}

export interface DeviceAccess {
  type: typeof DEV_BLOCK | typeof DEV_CHAR;
  major: number;
  minor: number;
  /** ACC_* bits requested together. */
  access: number;
}

/**
 * Runs a device program on one access (the subset of eBPF deviceProgram emits), as the kernel
 * would: returns r0 (1 allow, 0 deny). Throws on anything the generator never emits.
 */
export function interpretDeviceProgram(insns: readonly Insn[], req: DeviceAccess): number {
  const ctx = [((req.access << 16) | req.type) >>> 0, req.major >>> 0, req.minor >>> 0];
  const r = new Array<number>(11).fill(0);
  r[R1] = -1; // the context pointer: only loads through it are allowed
  for (let pc = 0, steps = 0; pc < insns.length; pc++, steps++) {
    if (steps > 100_000) throw new Error("device program: does not terminate");
    const x = insns[pc]!;
    switch (x.code) {
      case OP.LDXW: {
        if (x.src !== R1 || x.off % 4 !== 0 || x.off < 0 || x.off > 8) {
          throw new Error(`device program: bad context load at ${pc}`);
        }
        r[x.dst] = ctx[x.off / 4]!;
        break;
      }
      case OP.AND32K:
        r[x.dst] = (r[x.dst]! & x.imm) >>> 0;
        break;
      case OP.RSH32K:
        r[x.dst] = r[x.dst]! >>> x.imm;
        break;
      case OP.MOV64K:
        r[x.dst] = x.imm;
        break;
      case OP.JA:
        pc += x.off;
        break;
      case OP.JNEK:
        if (r[x.dst] !== x.imm >>> 0) pc += x.off;
        break;
      case OP.JSETK:
        if ((r[x.dst]! & x.imm) !== 0) pc += x.off;
        break;
      case OP.EXIT:
        return r[R0]!;
      default:
        throw new Error(`device program: unknown opcode 0x${x.code.toString(16)} at ${pc}`);
    }
    if (pc + 1 < 0 || pc + 1 > insns.length) throw new Error(`device program: jump out of range at ${pc}`);
  }
  throw new Error("device program: fell off the end");
}

/** The reference meaning of a rule list (what the program must compute), for tests. */
export function evaluateRules(rules: readonly LinuxDeviceCgroup[], req: DeviceAccess): boolean {
  for (const bit of [ACC_MKNOD, ACC_READ, ACC_WRITE]) {
    if ((req.access & bit) === 0) continue;
    let allowed = false;
    for (const rule of rules) {
      if ((accessBits(rule.access) & bit) === 0) continue;
      const t = typeCode(rule.type);
      const matches =
        t === undefined ||
        (t === req.type &&
          (wildcard(rule.major) || rule.major === req.major) &&
          (wildcard(rule.minor) || rule.minor === req.minor));
      if (matches) allowed = rule.allow;
    }
    if (!allowed) return false;
  }
  return true;
}
