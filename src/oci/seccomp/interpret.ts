// A classic BPF interpreter over struct seccomp_data, for tests: it runs a
// compiled filter the way the kernel would and returns the SECCOMP_RET_* value.
// `checkProgram` applies the kernel's load-time rules first (length, forward
// jumps in range, aligned loads inside seccomp_data, a final RET).

import { endianness } from "node:os";
import {
  BPF_A,
  BPF_ABS,
  BPF_ADD,
  BPF_ALU,
  BPF_AND,
  BPF_DIV,
  BPF_IMM,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_LEN,
  BPF_LSH,
  BPF_MAXINSNS,
  BPF_MEM,
  BPF_MEMWORDS,
  BPF_MISC,
  BPF_MOD,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_RET,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_SUB,
  BPF_TAX,
  BPF_W,
  BPF_X,
  BPF_XOR,
  decode,
  type Insn,
  OFF_ARCH,
  OFF_ARGS,
  OFF_IP,
  OFF_NR,
  SECCOMP_DATA_SIZE,
} from "./bpf.js";

export interface SeccompData {
  /** The syscall number as the kernel sees it (x32 numbers include X32_SYSCALL_BIT). */
  nr: number;
  /** AUDIT_ARCH_* of the calling ABI. */
  arch: number;
  instructionPointer?: bigint;
  /** Up to six arguments; missing ones are 0. */
  args?: readonly bigint[];
}

const LITTLE = endianness() === "LE";

/** The bytes of struct seccomp_data in host byte order. */
export function seccompDataBytes(d: SeccompData): DataView {
  const view = new DataView(new ArrayBuffer(SECCOMP_DATA_SIZE));
  view.setUint32(OFF_NR, d.nr >>> 0, LITTLE);
  view.setUint32(OFF_ARCH, d.arch >>> 0, LITTLE);
  view.setBigUint64(OFF_IP, BigInt.asUintN(64, d.instructionPointer ?? 0n), LITTLE);
  for (let i = 0; i < 6; i++) {
    view.setBigUint64(OFF_ARGS + 8 * i, BigInt.asUintN(64, d.args?.[i] ?? 0n), LITTLE);
  }
  return view;
}

const cls = (code: number) => code & 0x07;
const size = (code: number) => code & 0x18;
const mode = (code: number) => code & 0xe0;
const op = (code: number) => code & 0xf0;
const src = (code: number) => code & 0x08;

/** Throws with the instruction index when the kernel would refuse the program. */
export function checkProgram(insns: readonly Insn[]): void {
  if (insns.length === 0 || insns.length > BPF_MAXINSNS) {
    throw new Error(`program length ${insns.length} is not in 1..${BPF_MAXINSNS}`);
  }
  insns.forEach((insn, pc) => {
    const fail = (why: string) => {
      throw new Error(`instruction ${pc} (code 0x${insn.code.toString(16)}): ${why}`);
    };
    switch (cls(insn.code)) {
      case BPF_LD:
      case BPF_LDX:
        if (size(insn.code) !== BPF_W) fail("only 32-bit loads are allowed in seccomp");
        if (mode(insn.code) === BPF_ABS) {
          if (cls(insn.code) !== BPF_LD) fail("LDX ABS is not a valid instruction");
          if (insn.k % 4 !== 0 || insn.k >= SECCOMP_DATA_SIZE)
            fail(`load offset ${insn.k} outside seccomp_data`);
        } else if (mode(insn.code) === BPF_MEM) {
          if (insn.k >= BPF_MEMWORDS) fail("scratch slot out of range");
        } else if (mode(insn.code) !== BPF_IMM && mode(insn.code) !== BPF_LEN) fail("unsupported load mode");
        break;
      case BPF_ST:
      case BPF_STX:
        if (insn.k >= BPF_MEMWORDS) fail("scratch slot out of range");
        break;
      case BPF_ALU:
        if (
          (op(insn.code) === BPF_DIV || op(insn.code) === BPF_MOD) &&
          src(insn.code) === BPF_K &&
          insn.k === 0
        ) {
          fail("division by constant zero");
        }
        break;
      case BPF_JMP: {
        const next = pc + 1;
        if (op(insn.code) === BPF_JA) {
          if (next + insn.k >= insns.length) fail("JA out of range");
        } else if (next + insn.jt >= insns.length || next + insn.jf >= insns.length)
          fail("jump out of range");
        break;
      }
      case BPF_RET:
      case BPF_MISC:
        break;
    }
  });
  if (cls(insns.at(-1)!.code) !== BPF_RET) throw new Error("the last instruction is not a RET");
}

/** Runs the filter against one syscall and returns what the kernel would act on. */
export function runFilter(program: Uint8Array | readonly Insn[], data: SeccompData): number {
  const insns = program instanceof Uint8Array ? decode(program) : program;
  checkProgram(insns);
  const mem = new Uint32Array(BPF_MEMWORDS);
  const view = seccompDataBytes(data);
  let a = 0;
  let x = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    const { code, jt, jf, k } = insns[pc]!;
    switch (cls(code)) {
      case BPF_LD:
      case BPF_LDX: {
        let v: number;
        switch (mode(code)) {
          case BPF_ABS:
            v = view.getUint32(k, LITTLE);
            break;
          case BPF_LEN:
            v = SECCOMP_DATA_SIZE;
            break;
          case BPF_MEM:
            v = mem[k]!;
            break;
          default:
            v = k >>> 0;
        }
        if (cls(code) === BPF_LD) a = v;
        else x = v;
        break;
      }
      case BPF_ST:
        mem[k] = a;
        break;
      case BPF_STX:
        mem[k] = x;
        break;
      case BPF_ALU:
        // The kernel ends the filter with 0 on a division by a zero X.
        if ((op(code) === BPF_DIV || op(code) === BPF_MOD) && src(code) === BPF_X && x === 0) return 0;
        a = alu(op(code), a, src(code) === BPF_X ? x : k >>> 0);
        break;
      case BPF_JMP: {
        if (op(code) === BPF_JA) {
          pc += k;
          break;
        }
        const rhs = src(code) === BPF_X ? x : k >>> 0;
        let taken: boolean;
        switch (op(code)) {
          case BPF_JEQ:
            taken = a === rhs;
            break;
          case BPF_JGT:
            taken = a > rhs;
            break;
          case BPF_JGE:
            taken = a >= rhs;
            break;
          case BPF_JSET:
            taken = (a & rhs) !== 0;
            break;
          default:
            throw new Error(`instruction ${pc}: unknown jump 0x${code.toString(16)}`);
        }
        pc += taken ? jt : jf;
        break;
      }
      case BPF_RET:
        return (code & 0x18) === BPF_A ? a : k >>> 0;
      case BPF_MISC:
        if ((code & 0xf8) === BPF_TAX) x = a;
        else a = x;
        break;
    }
  }
  throw new Error("program ran off its end");
}

function alu(operation: number, a: number, v: number): number {
  switch (operation) {
    case BPF_ADD:
      return (a + v) >>> 0;
    case BPF_SUB:
      return (a - v) >>> 0;
    case BPF_MUL:
      return Math.imul(a, v) >>> 0;
    case BPF_DIV:
      return v === 0 ? 0 : Math.floor(a / v) >>> 0;
    case BPF_MOD:
      return v === 0 ? a : (a % v) >>> 0;
    case BPF_OR:
      return (a | v) >>> 0;
    case BPF_AND:
      return (a & v) >>> 0;
    case BPF_XOR:
      return (a ^ v) >>> 0;
    case BPF_LSH:
      return v >= 32 ? 0 : (a << v) >>> 0;
    case BPF_RSH:
      return v >= 32 ? 0 : a >>> v;
    case BPF_NEG:
      return -a >>> 0;
    default:
      throw new Error(`unknown ALU operation 0x${operation.toString(16)}`);
  }
}
