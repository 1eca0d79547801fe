// The cBPF interpreter itself, on hand-assembled programs: every instruction
// class it models, and the load-time checks the kernel would apply.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
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
  BPF_LSH,
  BPF_MEM,
  BPF_MISC,
  BPF_MOD,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_RET,
  BPF_RSH,
  BPF_ST,
  BPF_SUB,
  BPF_TAX,
  BPF_TXA,
  BPF_W,
  BPF_X,
  BPF_XOR,
  decode,
  encode,
  type Insn,
  OFF_ARCH,
  OFF_NR,
} from "../../src/oci/seccomp/bpf.js";
import { checkProgram, runFilter } from "../../src/oci/seccomp/interpret.js";

const stmt = (code: number, k = 0): Insn => ({ code, jt: 0, jf: 0, k });
const jump = (op: number, k: number, jt: number, jf: number): Insn => ({
  code: BPF_JMP | op | BPF_K,
  jt,
  jf,
  k,
});
const RET_A = BPF_RET | 0x10;
const data = { nr: 7, arch: 0xc000003e, args: [0x1122334455667788n, 3n] };

test("loads read seccomp_data words in host order, including both halves of an argument", () => {
  assert.equal(runFilter([stmt(BPF_LD | BPF_W | BPF_ABS, OFF_NR), stmt(RET_A)], data), 7);
  assert.equal(runFilter([stmt(BPF_LD | BPF_W | BPF_ABS, OFF_ARCH), stmt(RET_A)], data), 0xc000003e);
  assert.equal(runFilter([stmt(BPF_LD | BPF_W | BPF_ABS, 16), stmt(RET_A)], data), 0x55667788);
  assert.equal(runFilter([stmt(BPF_LD | BPF_W | BPF_ABS, 20), stmt(RET_A)], data), 0x11223344);
});

test("ALU operations wrap at 32 bits", () => {
  const alu = (op: number, a: number, k: number) =>
    runFilter([stmt(BPF_LD | BPF_IMM, a), stmt(BPF_ALU | op | BPF_K, k), stmt(RET_A)], data);
  assert.equal(alu(BPF_ADD, 0xffffffff, 2), 1);
  assert.equal(alu(BPF_SUB, 1, 2), 0xffffffff);
  assert.equal(alu(BPF_MUL, 0x10000, 0x10000), 0);
  assert.equal(alu(BPF_DIV, 7, 2), 3);
  assert.equal(alu(BPF_MOD, 7, 4), 3);
  assert.equal(alu(BPF_OR, 0xf0, 0x0f), 0xff);
  assert.equal(alu(BPF_AND, 0xf0, 0x3c), 0x30);
  assert.equal(alu(BPF_XOR, 0xff, 0x0f), 0xf0);
  assert.equal(alu(BPF_LSH, 1, 31), 0x80000000);
  assert.equal(alu(BPF_RSH, 0x80000000, 31), 1);
  assert.equal(alu(BPF_NEG, 1, 0), 0xffffffff);
});

test("X register, scratch memory and division by a zero X (the filter returns 0)", () => {
  const prog = [
    stmt(BPF_LD | BPF_IMM, 40),
    stmt(BPF_ST, 3),
    stmt(BPF_LDX | BPF_W | BPF_MEM, 3),
    stmt(BPF_LD | BPF_IMM, 2),
    stmt(BPF_ALU | BPF_ADD | BPF_X),
    stmt(BPF_MISC | BPF_TAX),
    stmt(BPF_LD | BPF_IMM, 0),
    stmt(BPF_MISC | BPF_TXA),
    stmt(RET_A),
  ];
  assert.equal(runFilter(prog, data), 42);
  const div0 = [
    stmt(BPF_LDX | BPF_W | BPF_IMM, 0),
    stmt(BPF_ALU | BPF_DIV | BPF_X),
    stmt(BPF_RET | BPF_K, 9),
  ];
  assert.equal(runFilter(div0, data), 0);
});

test("conditional jumps and JA", () => {
  const cond = (op: number, k: number) =>
    runFilter(
      [stmt(BPF_LD | BPF_IMM, 6), jump(op, k, 1, 0), stmt(BPF_RET | BPF_K, 0), stmt(BPF_RET | BPF_K, 1)],
      data,
    );
  assert.deepEqual([cond(BPF_JEQ, 6), cond(BPF_JEQ, 5)], [1, 0]);
  assert.deepEqual([cond(BPF_JGT, 5), cond(BPF_JGT, 6)], [1, 0]);
  assert.deepEqual([cond(BPF_JGE, 6), cond(BPF_JGE, 7)], [1, 0]);
  assert.deepEqual([cond(BPF_JSET, 2), cond(BPF_JSET, 1)], [1, 0]);
  const ja = [stmt(BPF_JMP | BPF_JA, 1), stmt(BPF_RET | BPF_K, 0), stmt(BPF_RET | BPF_K, 5)];
  assert.equal(runFilter(ja, data), 5);
});

test("bytes round-trip through encode/decode", () => {
  const prog = [jump(BPF_JEQ, 0xdeadbeef, 3, 250), stmt(BPF_RET | BPF_K, 0x7fff0000)];
  assert.deepEqual(decode(encode(prog)), prog);
  assert.throws(() => decode(new Uint8Array(7)), /not a whole number/);
});

test("programs the kernel would refuse are refused", () => {
  const ret = stmt(BPF_RET | BPF_K, 0);
  assert.throws(() => checkProgram([]), /length 0/);
  assert.throws(() => checkProgram(new Array(4097).fill(ret)), /length 4097/);
  assert.throws(() => checkProgram([stmt(BPF_LD | BPF_IMM, 0)]), /last instruction is not a RET/);
  assert.throws(() => checkProgram([jump(BPF_JEQ, 0, 5, 0), ret]), /jump out of range/);
  assert.throws(() => checkProgram([stmt(BPF_JMP | BPF_JA, 1), ret]), /JA out of range/);
  assert.throws(() => checkProgram([stmt(BPF_LD | BPF_W | BPF_ABS, 64), ret]), /outside seccomp_data/);
  assert.throws(() => checkProgram([stmt(BPF_LD | BPF_W | BPF_ABS, 2), ret]), /outside seccomp_data/);
  assert.throws(() => checkProgram([stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret]), /division by constant zero/);
  assert.throws(() => checkProgram([stmt(BPF_ST, 16), ret]), /scratch slot/);
});
