// One container owned by this shim: its rootfs mounts, cgroup, init and exec
// processes, and the rules containerd relies on for exits — an exec's exit is
// reported before its init's, the init's only once every exec has been, and
// an exit never overtakes the TaskStart of the same process.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  TaskCreateSchema,
  TaskExecAddedSchema,
  TaskExecStartedSchema,
  TaskExitSchema,
  TaskStartSchema,
} from "../api/gen/containerd/events/task_pb.js";
import {
  type Options as RuncOptions,
  OptionsSchema as RuncOptionsSchema,
} from "../api/gen/containerd/runc/v1/options_pb.js";
import type { CreateTaskRequest, ExecProcessRequest } from "../api/gen/containerd/task/v2/shim_pb.js";
import { anyHolds } from "../api/typeurl.js";
import { CgroupManager } from "../oci/cgroups/index.js";
import { Container, type ExitStatus } from "../oci/container.js";
import type { Process, Spec } from "../oci/spec.js";
import { parseSpec } from "../oci/validate.js";
import { processStartTime, removeBundleState, writeBundleState } from "./bundle-state.js";
import { alreadyExists, failedPrecondition, invalidArgument, notFound, toStatusError } from "./errors.js";
import type { EventPublisher } from "./events.js";
import { ProcessStdio } from "./io/stdio.js";
import type { Logger } from "./logger.js";
import { nativeHost } from "./native-host.js";
import { type ExitRecord, TaskProcess } from "./process/task-process.js";
import { publishEvent } from "./publish.js";
import { mountRootfs, unmountRootfs } from "./rootfs-mounts.js";

export interface ShimContext {
  readonly namespace: string;
  readonly log: Logger;
  readonly events: EventPublisher;
  /** Told (with the container's id) when a process's state changed outside a Task API call: an exit. */
  readonly stateChanged?: ((containerId: string) => void) | undefined;
}

const SIGKILL = 9;

function exitRecord(s: ExitStatus): ExitRecord {
  return { pid: s.pid, status: s.status, exitedAt: new Date(Number(s.exitedAt / 1_000_000n)) };
}

function runcOptions(req: CreateTaskRequest): RuncOptions | undefined {
  const any = req.options;
  if (any === undefined || any.typeUrl === "") return undefined;
  if (!anyHolds(any, RuncOptionsSchema)) return undefined;
  return fromBinary(RuncOptionsSchema, any.value);
}

function ownsPidNamespace(spec: Spec): boolean {
  return (spec.linux?.namespaces ?? []).some(
    (ns) => ns.type === "pid" && (ns.path === undefined || ns.path === ""),
  );
}

/** Milliseconds between named points of one operation. */
class StepTimer {
  private last = performance.now();
  private readonly ms: Record<string, number> = {};

  mark(step: string): void {
    const now = performance.now();
    this.ms[step] = Math.round((now - this.last) * 100) / 100;
    this.last = now;
  }

  done(): Record<string, number> {
    this.mark("rest");
    return this.ms;
  }
}

export class ShimContainer {
  readonly execs = new Map<string, TaskProcess>();
  /** Set by the Task service (oom.ts): checked before the init's TaskExit so TaskOOM comes first. */
  oomWatch: { check(): void } | undefined;
  private deleting = false;

  private constructor(
    readonly id: string,
    readonly bundle: string,
    readonly spec: Spec,
    readonly init: TaskProcess,
    readonly container: Container,
    readonly cgroup: CgroupManager | undefined,
    private readonly ctx: ShimContext,
    private readonly mountedRootfs: boolean,
  ) {}

  /** Create: rootfs, spec, stdio, cgroup, the init blocked before execve. Nothing is left on failure. */
  static async create(req: CreateTaskRequest, ctx: ShimContext): Promise<ShimContainer> {
    if (req.id === "" || req.id.includes("/"))
      throw invalidArgument(`invalid container id ${JSON.stringify(req.id)}`);
    if (req.checkpoint !== "")
      throw invalidArgument("restoring from a checkpoint is not supported by tsshim");
    const bundle = req.bundle;
    let spec: Spec;
    try {
      spec = parseSpec(readFileSync(join(bundle, "config.json"), "utf8"));
    } catch (err) {
      throw toStatusError(err, `config.json of ${req.id}`);
    }
    const opts = runcOptions(req);
    const init = new TaskProcess(req.id, "", {
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
      terminal: req.terminal,
    });
    const log = ctx.log.child({ container: req.id });
    // Where a Create's time goes, at debug level (README, Performance).
    const steps = new StepTimer();
    let mounted = false;
    let stdio: ProcessStdio | undefined;
    let cgroup: CgroupManager | undefined;
    try {
      mountRootfs(bundle, req.rootfs);
      mounted = req.rootfs.length > 0;
      steps.mark("rootfs");
      stdio = await ProcessStdio.open(init.stdioRequest, {
        containerId: req.id,
        namespace: ctx.namespace,
        log,
      });
      steps.mark("stdio");
      cgroup = new CgroupManager({ cgroupsPath: spec.linux?.cgroupsPath, id: req.id });
      cgroup.create();
      if (spec.linux?.resources !== undefined) {
        const report = cgroup.applyResources(spec.linux.resources);
        if (report.unsupported.length > 0) {
          log.warn(
            { unsupported: report.unsupported },
            "resource limits this host cannot apply were skipped",
          );
        }
      }
      if (opts?.noPivotRoot === true)
        log.warn("runc option NoPivotRoot is ignored: tsshim always uses pivot_root");
      steps.mark("cgroup");
      const terminal = req.terminal;
      const container = await Container.create({
        id: req.id,
        bundle,
        spec,
        stdio: { stdin: stdio.childFds[0], stdout: stdio.childFds[1], stderr: stdio.childFds[2] },
        terminal,
        cgroup,
      });
      steps.mark("core");
      init.handle = container.init;
      init.stdio = stdio;
      writeBundleState(bundle, {
        id: req.id,
        pid: container.init.pid,
        startTime: processStartTime(container.init.pid),
        cgroupsPath: spec.linux?.cgroupsPath ?? "",
      });
      if (terminal) {
        const master = container.consoleMaster;
        if (master === undefined) throw new Error("the container has a terminal but no console was returned");
        const ends = stdio.takeConsoleEnds();
        stdio.attachConsole(master, ends.stdout, ends.stdin);
      }
      stdio.releaseChildEnds();
      const shim = new ShimContainer(req.id, bundle, spec, init, container, cgroup, { ...ctx, log }, mounted);
      shim.watchExit(init);
      publishEvent(ctx, "/tasks/create", TaskCreateSchema, {
        containerId: req.id,
        bundle,
        rootfs: req.rootfs,
        io: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
        checkpoint: req.checkpoint,
        pid: container.init.pid,
      });
      log.debug({ ms: steps.done() }, "created");
      return shim;
    } catch (err) {
      stdio?.dispose();
      if (cgroup !== undefined) await cgroup.destroy().catch(() => undefined);
      if (mounted) unmountRootfs(bundle);
      throw toStatusError(err, `create ${req.id}`);
    }
  }

  get ownsPidNamespace(): boolean {
    return ownsPidNamespace(this.spec);
  }

  process(execId: string): TaskProcess {
    if (execId === "") return this.init;
    const p = this.execs.get(execId);
    if (p === undefined)
      throw notFound(`process ${JSON.stringify(execId)} does not exist in container ${this.id}`);
    return p;
  }

  async start(execId: string): Promise<number> {
    const p = this.process(execId);
    p.machine.check("start");
    if (p.isInit) {
      await p.guardStart(async () => {
        await this.container.start();
        p.machine.apply("start");
        publishEvent(this.ctx, "/tasks/start", TaskStartSchema, { containerId: this.id, pid: p.pid });
      });
      return p.pid;
    }
    this.init.machine.check("exec");
    await p.guardStart(async () => {
      const proc = p.execSpec!;
      const stdio = await ProcessStdio.open(p.stdioRequest, {
        containerId: this.id,
        namespace: this.ctx.namespace,
        log: this.ctx.log,
        // an exec's background children must not keep the client's stream open
        copyFifoOutput: true,
      });
      try {
        const handle = await this.container.execCreate(proc, {
          stdio: { stdin: stdio.childFds[0], stdout: stdio.childFds[1], stderr: stdio.childFds[2] },
          terminal: p.stdioRequest.terminal,
        });
        p.handle = handle;
        p.stdio = stdio;
        if (p.stdioRequest.terminal) {
          const master = handle.consoleMaster;
          if (master === undefined) throw new Error("the exec has a terminal but no console was returned");
          const ends = stdio.takeConsoleEnds();
          stdio.attachConsole(master, ends.stdout, ends.stdin);
          handle.consoleMaster = undefined;
        }
        this.watchExit(p);
        await handle.start();
        stdio.releaseChildEnds();
      } catch (err) {
        if (p.handle === undefined) stdio.dispose();
        throw err;
      }
      p.machine.apply("start");
      publishEvent(this.ctx, "/tasks/exec-started", TaskExecStartedSchema, {
        containerId: this.id,
        execId: p.execId,
        pid: p.pid,
      });
    });
    return p.pid;
  }

  /** Exec: records the process; it is created and started by Start, as containerd's shims do. */
  addExec(req: ExecProcessRequest, proc: Process): TaskProcess {
    if (this.execs.has(req.execId))
      throw alreadyExists(`exec ${JSON.stringify(req.execId)} already exists in ${this.id}`);
    if (req.execId === "") throw invalidArgument("exec id must not be empty");
    this.init.machine.check("exec");
    const p = new TaskProcess(this.id, req.execId, {
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
      terminal: req.terminal,
    });
    p.execSpec = proc;
    this.execs.set(req.execId, p);
    publishEvent(this.ctx, "/tasks/exec-added", TaskExecAddedSchema, {
      containerId: this.id,
      execId: req.execId,
    });
    return p;
  }

  async kill(execId: string, signal: number, all: boolean): Promise<void> {
    const p = this.process(execId);
    if (p.handle === undefined) throw failedPrecondition(`exec ${JSON.stringify(p.id)} is not started`);
    const finished = p.exit !== undefined || !p.handle.running;
    if (p.isInit) {
      if (finished && !all) throw notFound(`process ${JSON.stringify(p.id)} already finished`);
      await this.container.kill(signal, { all });
      return;
    }
    if (finished) throw notFound(`process ${JSON.stringify(p.id)} already finished`);
    p.handle.kill(signal);
  }

  resize(execId: string, width: number, height: number): void {
    const p = this.process(execId);
    p.machine.check("resize");
    const master = p.stdio?.master ?? -1;
    if (master < 0) throw failedPrecondition(`process ${JSON.stringify(p.id)} has no terminal`);
    nativeHost().ptyResize(master, height, width);
  }

  closeIO(execId: string): void {
    this.process(execId).stdio?.closeStdin();
  }

  /** Delete of an exec: it must have exited (or never started). */
  deleteExec(execId: string): ExitRecord {
    const p = this.process(execId);
    p.machine.check("delete");
    const rec = p.exit ?? { pid: p.pid, status: 0, exitedAt: new Date(0) };
    p.machine.apply("delete");
    p.stdio?.dispose();
    this.execs.delete(execId);
    return rec;
  }

  /** Delete of the init: kills what remains, releases cgroup, console and rootfs. */
  async delete(): Promise<ExitRecord> {
    const init = this.init;
    init.machine.check("delete");
    this.deleting = true;
    await this.container.delete();
    const rec = await init.wait();
    init.machine.apply("delete");
    for (const e of this.execs.values()) e.stdio?.dispose();
    this.execs.clear();
    init.stdio?.dispose();
    if (this.mountedRootfs) unmountRootfs(this.bundle);
    removeBundleState(this.bundle);
    return rec;
  }

  private watchExit(p: TaskProcess): void {
    const handle = p.handle!;
    void handle.wait().then(
      (status) => this.onExit(p, exitRecord(status)),
      (err: unknown) =>
        this.ctx.log.error({ err: String(err), process: p.id }, "waiting for a process failed"),
    );
  }

  private async onExit(p: TaskProcess, rec: ExitRecord): Promise<void> {
    await p.startSettled();
    if (p.isInit) {
      // Without its own PID namespace nothing else dies with the init: do what the kernel would.
      if (!this.ownsPidNamespace && !this.deleting) {
        await this.container.kill(SIGKILL, { all: true }).catch(() => undefined);
      }
      const running = [...this.execs.values()].filter((e) => e.handle !== undefined && e.exit === undefined);
      await Promise.all(running.map((e) => e.wait()));
    }
    await p.stdio?.finish();
    if (p.isInit) this.oomWatch?.check();
    if (!p.recordExit(rec)) return;
    this.ctx.stateChanged?.(this.id);
    this.ctx.log.info({ process: p.id, processPid: rec.pid, status: rec.status }, "process exited");
    publishEvent(this.ctx, "/tasks/exit", TaskExitSchema, {
      containerId: this.id,
      id: p.id,
      pid: rec.pid,
      exitStatus: rec.status,
      exitedAt: timestampFromDate(rec.exitedAt),
    });
  }
}
