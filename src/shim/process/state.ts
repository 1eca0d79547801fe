// The life of a task process as containerd sees it. Every operation checks the
// state first so a wrong-state request gets FailedPrecondition with a message
// saying what was asked and why it cannot happen.
import { failedPrecondition } from "../errors.js";

export type ProcessState = "created" | "running" | "pausing" | "paused" | "stopped" | "deleted";
export type ProcessOp =
  | "start"
  | "kill"
  | "pause"
  | "resume"
  | "delete"
  | "exit"
  | "exec"
  | "resize"
  | "update";

const allowed: Record<ProcessOp, readonly ProcessState[]> = {
  start: ["created"],
  kill: ["created", "running", "pausing", "paused", "stopped"],
  pause: ["running"],
  resume: ["paused"],
  delete: ["created", "stopped"],
  exit: ["created", "running", "pausing", "paused"],
  exec: ["created", "running"],
  resize: ["created", "running", "paused"],
  update: ["created", "running", "paused"],
};

const next: Partial<Record<ProcessOp, ProcessState>> = {
  start: "running",
  pause: "paused",
  resume: "running",
  delete: "deleted",
  exit: "stopped",
};

export class ProcessStateMachine {
  constructor(
    private readonly what: string,
    private current: ProcessState = "created",
  ) {}

  get state(): ProcessState {
    return this.current;
  }

  can(op: ProcessOp): boolean {
    return allowed[op].includes(this.current);
  }

  /** Throws FailedPrecondition unless `op` is valid now. */
  check(op: ProcessOp): void {
    if (!this.can(op)) {
      const target = op === "exec" ? `exec in ${this.what}` : `${op} ${this.what}`;
      throw failedPrecondition(`cannot ${target}: it is ${this.current}`);
    }
  }

  /** Checks and moves to the op's next state (ops without one leave the state as is). */
  apply(op: ProcessOp): void {
    this.check(op);
    const to = next[op];
    if (to !== undefined) this.current = to;
  }

  /** Pause is two-step (freezing takes time): running → pausing → paused, or back on failure. */
  beginPause(): void {
    this.check("pause");
    this.current = "pausing";
  }

  endPause(ok: boolean): void {
    if (this.current === "pausing") this.current = ok ? "paused" : "running";
  }
}
