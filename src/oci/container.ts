// The container API the shim uses: create (init blocked before execve), start,
// signal, exec, delete. Built on the native core (native/container_*.c) through
// the plan of container-plan.ts; every exit goes through the reaper.

import { writeFileSync } from "node:fs";
import { CgroupManager } from "./cgroups/index.js";
import { type ExitStatus, watchExit } from "./container-exit.js";
import { runHooksInContainer } from "./container-hooks.js";
import {
  buildContainerPlan,
  buildExecPlan,
  type ContainerPlanOptions,
  type NativeContainerPlan,
  type ParentSteps,
  type StdioFds,
} from "./container-plan.js";
import { ContainerError, fromNativeRecord, fromNativeThrow, type NativeErrorRecord } from "./errors.js";
import { closeQuietly } from "./fd.js";
import { type ContainerState, runHooks } from "./hooks.js";
import { nativeContainer, SPAWN_EXEC, SPAWN_INIT, SYNC, type SyncMessage } from "./native.js";
import type { Process, Spec } from "./spec.js";

export type { ExitStatus } from "./container-exit.js";

/** What the container needs from the cgroup manager (src/oci/cgroups). */
export interface CgroupPlacement {
  /** cgroup v2 directory to clone into (CLONE_INTO_CGROUP), if any. */
  unifiedDir(): string | undefined;
  /** Places pid in the cgroup v1 hierarchies (a no-op for v2 only). */
  enter(pid: number): void | Promise<void>;
  /**
   * The cgroup v1 `tasks` files a new process joins by itself (the parent opens them and
   * sends the fds with "mapped"; the child writes "0" to each), the unified directory being
   * joined by CLONE_INTO_CGROUP. When given, enter() is not called for new processes: a pid
   * written to cgroup.procs takes the kernel's global threadgroup lock, whose write side
   * waits for an RCU grace period (0.5-10 ms measured here).
   */
  selfEnterFiles?(): string[];
  /**
   * The fds of selfEnterFiles(), opened (after any directory still to make) on a libuv thread
   * while the process is cloned; the caller closes them. Without it the paths are opened
   * when "mapped" is sent.
   */
  openTasks?(): Promise<number[]>;
  /** Signals every process of the cgroup. */
  kill?(signal: number): void | Promise<void>;
  destroy(): void | Promise<void>;
}

export interface CreateOptions {
  id: string;
  bundle: string;
  /** A validated spec (validate.ts parseSpec). */
  spec: Spec;
  stdio?: StdioFds | undefined;
  /** Overrides spec.process.terminal. */
  terminal?: boolean | undefined;
  /** Placement given by the caller; otherwise a CgroupManager is made when a cgroups path is set. */
  cgroup?: CgroupPlacement | undefined;
  /** Overrides spec.linux.cgroupsPath. */
  cgroupsPath?: string | undefined;
  /** Host fds that become 3, 4, ... in the process. */
  preserveFds?: number[] | undefined;
  /** false: the minimal built-in rootfs setup instead of the rootfs plan. */
  rootfsPlan?: boolean;
  /** containerd's NoPivotRoot option: MS_MOVE + chroot instead of pivot_root. */
  noPivot?: boolean;
  /** How long the child may take to set up (ms). */
  setupTimeoutMs?: number;
}

export interface ExecOptions {
  stdio?: StdioFds | undefined;
  terminal?: boolean | undefined;
  /** Host fds that become 3, 4, ... in the process. */
  preserveFds?: number[] | undefined;
}

const SIGKILL = 9;
const DEFAULT_SETUP_TIMEOUT = 30_000;

function nativeRecord(v: unknown): NativeErrorRecord | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r["errnum"] !== "number" || typeof r["step"] !== "string") return undefined;
  return v as NativeErrorRecord;
}

/** A process of the container (its init, or an exec'd one) that has been cloned. */
export class ContainerProcess {
  readonly pid: number;
  readonly pidfd: number;
  /** The PTY master when the process has a terminal; owned by the caller after create. */
  consoleMaster: number | undefined;
  private sock: number;
  /** A read of the sync channel is in flight (release() must not close it under the read). */
  private receiving = false;
  private readonly exit: Promise<ExitStatus>;
  private exited: ExitStatus | undefined;
  private closed = false;

  constructor(pid: number, pidfd: number, sock: number, exit: Promise<ExitStatus>) {
    this.pid = pid;
    this.pidfd = pidfd;
    this.sock = sock;
    this.exit = exit.then((s) => {
      this.exited = s;
      return s;
    });
  }

  get running(): boolean {
    return this.exited === undefined;
  }

  wait(): Promise<ExitStatus> {
    return this.exit;
  }

  /** Waits for "ready" (setup done, blocked before execve); throws the child's error. */
  async ready(timeoutMs: number): Promise<void> {
    const msg = await this.recv(timeoutMs);
    if (msg.type === SYNC.READY) {
      if (msg.fd >= 0) this.consoleMaster = msg.fd;
      return;
    }
    throw this.failure(msg, "create");
  }

  /** Lets the process execve; resolves once execve succeeded (the CLOEXEC channel closed). */
  async start(timeoutMs = DEFAULT_SETUP_TIMEOUT): Promise<void> {
    if (this.sock < 0) throw new ContainerError("process already started");
    try {
      nativeContainer().containerSyncSend(this.sock, SYNC.START);
    } catch (e) {
      throw fromNativeThrow(e, "start");
    }
    const msg = await this.recv(timeoutMs);
    closeQuietly(this.sock);
    this.sock = -1;
    if (msg.type !== SYNC.EOF) throw this.failure(msg, "start");
  }

  /**
   * The parent's part before the child goes on: it has been mapped and placed, or gets the
   * cgroup v1 tasks files to join (fds, or paths opened here), sent with the message.
   */
  mapped(tasksFiles: readonly (string | number)[] = []): void {
    try {
      nativeContainer().containerSyncSend(this.sock, SYNC.MAPPED, tasksFiles);
    } catch (e) {
      throw fromNativeThrow(e, "create");
    }
  }

  kill(signal: number): void {
    if (this.exited !== undefined)
      throw new ContainerError(`process ${this.pid} has already exited`, undefined, "ESRCH");
    try {
      nativeContainer().containerPidfdSignal(this.pidfd, signal);
    } catch (e) {
      throw fromNativeThrow(e, "kill");
    }
  }

  /** SIGKILL unless exited, wait for the reaper, release every fd. */
  async destroy(): Promise<ExitStatus> {
    if (this.exited === undefined) {
      try {
        nativeContainer().containerPidfdSignal(this.pidfd, SIGKILL);
      } catch {
        // exited meanwhile
      }
    }
    const s = await this.exit;
    this.release();
    return s;
  }

  /** Closes the sync channel and the pidfd (the console master belongs to the caller). */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    // A fast process can exit (and be released) while start() still waits on the sync
    // channel: closing it under that read would fail it with EBADF, or read a reused fd.
    if (!this.receiving) {
      closeQuietly(this.sock);
      this.sock = -1;
    }
    closeQuietly(this.pidfd);
  }

  private async recv(timeoutMs: number): Promise<SyncMessage> {
    this.receiving = true;
    try {
      return await nativeContainer().containerSyncRecv(this.sock, timeoutMs);
    } catch (e) {
      throw fromNativeThrow(e);
    } finally {
      this.receiving = false;
      if (this.closed && this.sock >= 0) {
        closeQuietly(this.sock);
        this.sock = -1;
      }
    }
  }

  private failure(msg: SyncMessage, what: string): ContainerError {
    const rec = nativeRecord(msg.error);
    if (msg.type === SYNC.ERROR && rec !== undefined) return fromNativeRecord(rec);
    return new ContainerError(`${what}: the process exited before it was ready`);
  }
}

/** Spawns one process from a plan and runs the parent's steps until "ready". */
async function spawnProcess(
  plan: NativeContainerPlan,
  kind: number,
  beforeMapped: (pid: number) => void | Promise<void>,
  timeoutMs: number,
  cgroup: CgroupPlacement | undefined,
): Promise<ContainerProcess> {
  let r: { pid: number; pidfd: number; sock: number };
  const tasksFiles = cgroup?.selfEnterFiles?.() ?? [];
  plan.cgroupTasks = tasksFiles;
  // Started before the clone so the directories and opens overlap it.
  const tasks = tasksFiles.length > 0 ? new TasksFds(cgroup?.openTasks?.()) : undefined;
  try {
    r = nativeContainer().containerSpawn(plan, kind);
  } catch (e) {
    await tasks?.release();
    throw fromNativeThrow(e);
  }
  const p = new ContainerProcess(r.pid, r.pidfd, r.sock, watchExit(r.pid, r.pidfd));
  // The child places itself (plan.cgroupTasks + CLONE_INTO_CGROUP) unless the placement
  // cannot tell it how; then the parent writes its pid.
  const parentEnter =
    cgroup !== undefined && cgroup.selfEnterFiles === undefined ? cgroup.enter.bind(cgroup) : undefined;
  try {
    await beforeMapped(r.pid);
    // A new cgroup namespace is unshared right after "mapped": placement must be done by then.
    const placeEarly = plan.newCgroupLate;
    if (placeEarly && parentEnter !== undefined) await parentEnter(r.pid);
    if (tasks !== undefined) {
      const fds = await tasks.take();
      try {
        p.mapped(fds ?? tasksFiles);
      } finally {
        await tasks.release();
      }
    } else p.mapped();
    const ready = p.ready(timeoutMs);
    // A parent's cgroup v1 placement can wait for an RCU grace period: done while the
    // child sets itself up; it is complete before "ready" is awaited, so before any
    // workload code can run (that only happens after start).
    try {
      if (!placeEarly && parentEnter !== undefined) await parentEnter(r.pid);
    } catch (e) {
      ready.catch(() => {});
      throw e;
    }
    await ready;
    return p;
  } catch (e) {
    await tasks?.release();
    await p.destroy();
    if (p.consoleMaster !== undefined) closeQuietly(p.consoleMaster);
    throw e;
  }
}

/** The pre-opened tasks fds of one spawn: whatever path the spawn takes, they are closed once. */
class TasksFds {
  private released = false;
  constructor(private readonly opening: Promise<number[]> | undefined) {
    // Observed by take() or release(); never an unhandled rejection on its own.
    opening?.catch(() => {});
  }

  /** The fds, or undefined when the placement opens none (the paths are sent instead). */
  async take(): Promise<number[] | undefined> {
    return this.opening === undefined ? undefined : await this.opening;
  }

  async release(): Promise<void> {
    if (this.released || this.opening === undefined) return;
    this.released = true;
    const fds = await this.opening.catch((): number[] => []);
    for (const fd of fds) closeQuietly(fd);
  }
}

export type ContainerStatus = "created" | "running" | "stopped";

export class Container {
  readonly id: string;
  readonly bundle: string;
  readonly spec: Spec;
  readonly init: ContainerProcess;
  readonly warnings: readonly string[];
  private readonly cgroup: CgroupPlacement | undefined;
  private readonly execs = new Set<ContainerProcess>();
  private started = false;
  private deleted = false;
  /** Failures of poststart/poststop hooks, which do not fail the operation. */
  readonly hookWarnings: string[] = [];

  private constructor(opts: CreateOptions, init: ContainerProcess, warnings: string[]) {
    this.id = opts.id;
    this.bundle = opts.bundle;
    this.spec = opts.spec;
    this.init = init;
    this.cgroup = opts.cgroup;
    this.warnings = warnings;
  }

  get consoleMaster(): number | undefined {
    return this.init.consoleMaster;
  }

  get status(): ContainerStatus {
    if (!this.init.running) return "stopped";
    return this.started ? "running" : "created";
  }

  /** Creates the container: its init exists in all its namespaces and its cgroup,
   * set up and blocked before execve. On failure nothing is left behind. */
  static async create(opts: CreateOptions): Promise<Container> {
    const planOpts: ContainerPlanOptions = {
      stdio: opts.stdio,
      terminal: opts.terminal,
      preserveFds: opts.preserveFds,
    };
    if (opts.rootfsPlan === false) planOpts.rootfsPlan = false;
    if (opts.noPivot === true) planOpts.noPivot = true;
    // Everything is parsed before anything is created (rule 7).
    const { plan, parent } = buildContainerPlan(opts.spec, opts.bundle, planOpts);
    let cgroup = opts.cgroup;
    let ownCgroup = false;
    const cgroupsPath = opts.cgroupsPath ?? opts.spec.linux?.cgroupsPath;
    if (cgroup === undefined && cgroupsPath !== undefined && cgroupsPath !== "") {
      const m = new CgroupManager({ cgroupsPath, id: opts.id });
      // The v1 directories are made while the init is being cloned.
      m.createForSpawn();
      cgroup = m;
      ownCgroup = true;
    }
    plan.cgroupDir = cgroup?.unifiedDir() ?? null;
    const cg = cgroup;
    let init: ContainerProcess;
    try {
      init = await Container.spawnInit(opts, plan, parent, cg);
    } catch (e) {
      if (ownCgroup && cg !== undefined) await cg.destroy();
      throw e;
    }
    const c = new Container({ ...opts, cgroup: cg }, init, parent.warnings);
    // Hooks as runc orders them: prestart and createRuntime in the runtime's
    // namespaces, then createContainer inside the container; a failure deletes it.
    const hooks = opts.spec.hooks;
    try {
      await runHooks("prestart", hooks?.prestart, c.state("created"));
      await runHooks("createRuntime", hooks?.createRuntime, c.state("created"));
      await runHooksInContainer("createContainer", hooks?.createContainer, c.state("created"), (p, o) =>
        c.exec(p, o),
      );
    } catch (e) {
      await c.delete({ hooks: false });
      throw e;
    }
    return c;
  }

  /** The runtime-spec state handed to hooks. */
  state(status: ContainerState["status"]): ContainerState {
    const s: ContainerState = { ociVersion: this.spec.ociVersion, id: this.id, status, bundle: this.bundle };
    if (status !== "stopped") s.pid = this.init.pid;
    if (this.spec.annotations !== undefined) s.annotations = this.spec.annotations;
    return s;
  }

  private static spawnInit(
    opts: CreateOptions,
    plan: NativeContainerPlan,
    parent: ParentSteps,
    cgroup: CgroupPlacement | undefined,
  ): Promise<ContainerProcess> {
    return spawnProcess(
      plan,
      SPAWN_INIT,
      async (pid) => {
        // Order matters: setgroups policy and gid_map before uid_map is what the kernel accepts.
        if (parent.gidMap !== null) writeProc(pid, "gid_map", parent.gidMap);
        if (parent.uidMap !== null) writeProc(pid, "uid_map", parent.uidMap);
        if (parent.oomScoreAdj !== undefined) writeProc(pid, "oom_score_adj", String(parent.oomScoreAdj));
      },
      opts.setupTimeoutMs ?? DEFAULT_SETUP_TIMEOUT,
      cgroup,
    );
  }

  /** Lets the init execve its program. */
  async start(): Promise<void> {
    if (this.deleted) throw new ContainerError(`container ${this.id} is deleted`);
    if (this.started) throw new ContainerError(`container ${this.id} is already started`);
    this.started = true;
    const hooks = this.spec.hooks;
    try {
      await runHooksInContainer("startContainer", hooks?.startContainer, this.state("created"), (p, o) =>
        this.exec(p, o),
      );
    } catch (e) {
      // The runtime-spec: a failing startContainer hook stops the container.
      await this.init.destroy();
      throw e;
    }
    await this.init.start();
    // poststart failures do not undo the start (runtime-spec): they are warnings.
    try {
      await runHooks("poststart", hooks?.poststart, this.state("running"));
    } catch (e) {
      this.hookWarnings.push(e instanceof Error ? e.message : String(e));
    }
  }

  /** Signals the init, or with all every process of the container. */
  async kill(signal: number, opts: { all?: boolean } = {}): Promise<void> {
    if (opts.all && this.cgroup?.kill !== undefined) {
      await this.cgroup.kill(signal);
      return;
    }
    if (opts.all) for (const p of this.execs) if (p.running) p.kill(signal);
    this.init.kill(signal);
  }

  /** Runs a new process inside the running container (create + start in one). */
  async exec(proc: Process, opts: ExecOptions = {}): Promise<ContainerProcess> {
    const p = await this.execCreate(proc, opts);
    try {
      await p.start();
    } catch (e) {
      await p.destroy();
      throw e;
    }
    return p;
  }

  /** The exec'd process, set up and blocked before execve; call start() on it. */
  async execCreate(proc: Process, opts: ExecOptions = {}): Promise<ContainerProcess> {
    if (!this.init.running) throw new ContainerError(`container ${this.id} is not running`);
    const { plan } = buildExecPlan(this.spec, this.init.pid, proc, {
      stdio: opts.stdio,
      terminal: opts.terminal,
      preserveFds: opts.preserveFds,
      cgroupDir: this.cgroup?.unifiedDir() ?? null,
    });
    const p = await spawnProcess(
      plan,
      SPAWN_EXEC,
      async (pid) => {
        if (proc.oomScoreAdj !== undefined) writeProc(pid, "oom_score_adj", String(proc.oomScoreAdj));
      },
      DEFAULT_SETUP_TIMEOUT,
      this.cgroup,
    );
    this.execs.add(p);
    void p.wait().then(() => {
      p.release();
      this.execs.delete(p);
    });
    return p;
  }

  /** Kills what remains, waits for it through the reaper, removes the cgroup, releases fds. */
  async delete(opts: { hooks?: boolean } = {}): Promise<void> {
    if (this.deleted) return;
    this.deleted = true;
    if (this.cgroup?.kill !== undefined && this.init.running) {
      try {
        await this.cgroup.kill(SIGKILL);
      } catch {
        // the pidfd kill below still reaches the init
      }
    }
    await Promise.all([...this.execs].map((p) => p.destroy()));
    await this.init.destroy();
    if (this.init.consoleMaster !== undefined) {
      closeQuietly(this.init.consoleMaster);
      this.init.consoleMaster = undefined;
    }
    if (this.cgroup !== undefined) await this.cgroup.destroy();
    if (opts.hooks !== false) {
      try {
        await runHooks("poststop", this.spec.hooks?.poststop, this.state("stopped"));
      } catch (e) {
        this.hookWarnings.push(e instanceof Error ? e.message : String(e));
      }
    }
  }
}

function writeProc(pid: number, file: string, text: string): void {
  try {
    writeFileSync(`/proc/${pid}/${file}`, text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new ContainerError(`write ${JSON.stringify(`/proc/${pid}/${file}`)}: ${code}`);
  }
}
