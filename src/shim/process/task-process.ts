// One task process as containerd sees it: the init of a container (exec id "")
// or an exec'd process. It owns its stdio and state, records its exit exactly
// once, and lets any number of Wait calls see it.
import type { ContainerProcess } from "../../oci/container.js";
import type { Process } from "../../oci/spec.js";
import type { ProcessStdio, StdioRequest } from "../io/stdio.js";
import { ProcessStateMachine } from "./state.js";

export interface ExitRecord {
  readonly pid: number;
  /** exit code, or 128 + signal */
  readonly status: number;
  readonly exitedAt: Date;
}

export class TaskProcess {
  readonly machine: ProcessStateMachine;
  handle: ContainerProcess | undefined;
  stdio: ProcessStdio | undefined;
  /** For an exec: the OCI process containerd sent with Exec, run at Start. */
  execSpec: Process | undefined;
  private exitRecord: ExitRecord | undefined;
  private readonly exitPromise: Promise<ExitRecord>;
  private resolveExit!: (r: ExitRecord) => void;
  /** Settles when a Start of this process finished (or never ran): an exit must not overtake TaskStart. */
  private startSettledPromise: Promise<void> = Promise.resolve();

  constructor(
    readonly containerId: string,
    /** "" for the init */
    readonly execId: string,
    readonly stdioRequest: StdioRequest,
  ) {
    this.machine = new ProcessStateMachine(
      execId === "" ? `container ${JSON.stringify(containerId)}` : `exec ${JSON.stringify(execId)}`,
    );
    this.exitPromise = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /** The id containerd uses for this process in events: the container id for an init. */
  get id(): string {
    return this.execId === "" ? this.containerId : this.execId;
  }

  get pid(): number {
    return this.handle?.pid ?? 0;
  }

  get exit(): ExitRecord | undefined {
    return this.exitRecord;
  }

  get isInit(): boolean {
    return this.execId === "";
  }

  wait(): Promise<ExitRecord> {
    return this.exitPromise;
  }

  /** Runs a start, holding back exit reporting until it has been published. */
  guardStart<T>(start: () => Promise<T>): Promise<T> {
    const run = start();
    this.startSettledPromise = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  startSettled(): Promise<void> {
    return this.startSettledPromise;
  }

  /** Records the exit once; later calls are ignored. */
  recordExit(rec: ExitRecord): boolean {
    if (this.exitRecord !== undefined) return false;
    this.exitRecord = rec;
    if (this.machine.can("exit")) this.machine.apply("exit");
    this.resolveExit(rec);
    return true;
  }
}
