// A tiny cBPF assembler with symbolic labels.
//
// Conditional jumps in cBPF carry 8-bit offsets (at most 255 instructions
// forward); only BPF_JA has a 32-bit offset. The builder lets the compiler jump
// to any later label; `assemble` then lays the program out and, for every
// conditional branch whose target is too far, inserts a JA trampoline right
// after the jump and points the branch at it. Inserting trampolines only makes
// other distances longer, so layout repeats until no new branch is too far.
import {
  BPF_ABS,
  BPF_ALU,
  BPF_AND,
  BPF_JA,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_RET,
  BPF_W,
  type Insn,
} from "./bpf.js";

export type Label = number & { readonly __label: unique symbol };

type Item =
  | { kind: "insn"; code: number; k: number }
  | { kind: "jcond"; code: number; k: number; jt: Label; jf: Label }
  | { kind: "ja"; target: Label }
  | { kind: "label"; label: Label };

const MAX_COND = 255;

export class ProgramBuilder {
  private readonly items: Item[] = [];
  private labels = 0;

  label(): Label {
    return this.labels++ as Label;
  }

  /** Places a label at the current position; every label is placed once. */
  place(label: Label): void {
    this.items.push({ kind: "label", label });
  }

  /** A = u32 at offset of seccomp_data. */
  load(offset: number): void {
    this.items.push({ kind: "insn", code: BPF_LD | BPF_W | BPF_ABS, k: offset });
  }

  and(k: number): void {
    this.items.push({ kind: "insn", code: BPF_ALU | BPF_AND | BPF_K, k: k >>> 0 });
  }

  ret(k: number): void {
    this.items.push({ kind: "insn", code: BPF_RET | BPF_K, k: k >>> 0 });
  }

  /** if (A <op> k) goto jt else goto jf; op is BPF_JEQ, BPF_JGT, BPF_JGE or BPF_JSET. */
  jump(op: number, k: number, jt: Label, jf: Label): void {
    this.items.push({ kind: "jcond", code: BPF_JMP | op | BPF_K, k: k >>> 0, jt, jf });
  }

  goto(target: Label): void {
    this.items.push({ kind: "ja", target });
  }

  assemble(): Insn[] {
    return layout(this.items, this.labels);
  }
}

function layout(items: readonly Item[], labelCount: number): Insn[] {
  // far[i] holds, for a jcond item, whether its true/false branch needs a trampoline.
  const farT = new Array<boolean>(items.length).fill(false);
  const farF = new Array<boolean>(items.length).fill(false);
  const addr = new Array<number>(items.length).fill(0);
  const where = new Array<number>(labelCount).fill(-1);

  for (;;) {
    let pc = 0;
    items.forEach((item, i) => {
      addr[i] = pc;
      if (item.kind === "label") where[item.label] = pc;
      else pc += 1 + (item.kind === "jcond" ? Number(farT[i]) + Number(farF[i]) : 0);
    });
    let changed = false;
    items.forEach((item, i) => {
      if (item.kind !== "jcond") return;
      const a = addr[i]!;
      const dt = target(where, item.jt) - (a + 1);
      const df = target(where, item.jf) - (a + 1);
      if (dt < 0 || df < 0) throw new Error("BPF jumps must go forward");
      // Near targets lie beyond this jump's own trampolines, already counted in their addresses.
      if (!farT[i] && dt > MAX_COND) {
        farT[i] = true;
        changed = true;
      }
      if (!farF[i] && df > MAX_COND) {
        farF[i] = true;
        changed = true;
      }
    });
    if (!changed) break;
  }

  const out: Insn[] = [];
  items.forEach((item, i) => {
    const a = addr[i]!;
    switch (item.kind) {
      case "label":
        return;
      case "insn":
        out.push({ code: item.code, jt: 0, jf: 0, k: item.k });
        return;
      case "ja":
        out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: target(where, item.target) - (a + 1) });
        return;
      case "jcond": {
        const t = target(where, item.jt);
        const f = target(where, item.jf);
        // Trampolines follow the jump: [jump][JA to jt if far][JA to jf if far].
        const slotT = a + 1;
        const slotF = a + 1 + Number(farT[i]);
        out.push({
          code: item.code,
          jt: farT[i] ? slotT - (a + 1) : t - (a + 1),
          jf: farF[i] ? slotF - (a + 1) : f - (a + 1),
          k: item.k,
        });
        if (farT[i]) out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: t - (slotT + 1) });
        if (farF[i]) out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: f - (slotF + 1) });
        return;
      }
    }
  });
  for (const insn of out) {
    if (insn.jt > MAX_COND || insn.jf > MAX_COND) throw new Error("internal error: BPF branch out of range");
  }
  return out;
}

function target(where: readonly number[], label: Label): number {
  const at = where[label];
  if (at === undefined || at < 0) throw new Error(`internal error: BPF label ${label} never placed`);
  return at;
}
