// The cgroup manager the shim uses for one container: plain file writes, no native code.
// It picks the backend that owns the controllers (v1 or v2) and, in hybrid mode, also places
// the container in the unified hierarchy as runc does (that copy gives CLONE_INTO_CGROUP a
// directory and lets SIGKILL use cgroup.kill).

import { statSync } from "node:fs";
import type { Metrics as V1Metrics } from "../../api/gen/io/containerd/cgroups/v1/metrics_pb.js";
import type { Metrics as V2Metrics } from "../../api/gen/io/containerd/cgroups/v2/metrics_pb.js";
import type { LinuxResources } from "../spec.js";
import type { CgroupBackend, FreezerState, ResourceReport } from "./backend.js";
import { CgroupError, removeTree, sleep } from "./files.js";
import { type CgroupLayout, type CgroupMode, detectLayout, ownCgroups } from "./mode.js";
import { type CgroupPath, hierarchyDir, parseCgroupsPath } from "./path.js";
import { type DirTarget, enterAll, makeDirs, prepareAsync, removeDirs } from "./place.js";
import { statsV1 } from "./stats-v1.js";
import { statsV2 } from "./stats-v2.js";
import { V1Cgroup } from "./v1.js";
import { V2Cgroup } from "./v2.js";

export type CgroupState = FreezerState | "absent";

/** Metrics in the message of the hierarchy that holds the controllers. */
export type CgroupStats = { version: 1; metrics: V1Metrics } | { version: 2; metrics: V2Metrics };

export interface CgroupManagerOptions {
  /** linux.cgroupsPath from the spec (may be empty or absent). */
  cgroupsPath?: string | undefined;
  /** The container id, used when cgroupsPath is empty. */
  id: string;
  /** Defaults to the host's layout from /proc/self/mountinfo. */
  layout?: CgroupLayout;
  /** The shim's own cgroups (for relative paths); defaults to /proc/self/cgroup. */
  own?: Map<string, string>;
}

const DEFAULT_TIMEOUT_MS = 5000;

export class CgroupManager {
  readonly mode: CgroupMode;
  readonly path: CgroupPath;
  /** The backend holding the controllers: v1 hierarchies, or the v2 cgroup. */
  private readonly controllers: CgroupBackend;
  /** Hybrid only: the same path in the unified hierarchy, for placement and cgroup.kill. */
  private readonly placement: V2Cgroup | undefined;
  private created: string[] = [];
  /** The v1 directories createForSpawn left to openTasks. */
  private deferred: DirTarget[] | undefined;
  /** openTasks while it runs on the pool. */
  private pending: Promise<void> | undefined;

  constructor(opts: CgroupManagerOptions) {
    const layout = opts.layout ?? detectLayout();
    this.mode = layout.mode;
    this.path = parseCgroupsPath(opts.cgroupsPath, opts.id);
    // Only a relative path depends on the shim's own cgroups: skip reading them otherwise.
    const own = opts.own ?? (this.path.kind === "relative" ? ownCgroups() : new Map<string, string>());
    const unifiedDir =
      layout.unified &&
      hierarchyDir(layout.unified.mountpoint, layout.unified.root, own.get("") ?? "/", this.path);
    if (layout.mode === "v2") {
      if (!layout.unified || unifiedDir === undefined) throw new CgroupError("no cgroup2 mount", "");
      this.controllers = new V2Cgroup(layout.unified.mountpoint, unifiedDir);
      this.placement = undefined;
    } else {
      this.controllers = new V1Cgroup(
        layout.v1.map((h) => ({
          hierarchy: h,
          dir: hierarchyDir(h.mountpoint, h.root, own.get(h.controllers[0] ?? "") ?? "/", this.path),
        })),
      );
      this.placement =
        layout.mode === "hybrid" && layout.unified && unifiedDir !== undefined
          ? new V2Cgroup(layout.unified.mountpoint, unifiedDir, false)
          : undefined;
    }
  }

  private backends(): CgroupBackend[] {
    return this.placement ? [this.controllers, this.placement] : [this.controllers];
  }

  /** Every directory of this container, one per hierarchy. */
  dirs(): string[] {
    return this.backends().flatMap((b) => b.dirs());
  }

  /**
   * Creates the container's cgroup in every hierarchy (mkdir -p, controllers enabled on v2):
   * every directory in one native call, which removes what it made if one fails.
   */
  create(): void {
    const backends = this.backends();
    this.created.push(...makeDirs(backends.flatMap((b) => b.createTargets())));
    for (const b of backends) b.afterCreate();
  }

  /**
   * create() for a process about to be spawned into the cgroup: the cgroup2 directory (which
   * CLONE_INTO_CGROUP needs) now; the v1 ones are made by openTasks(), on a libuv pool thread
   * while the caller clones.
   */
  createForSpawn(): void {
    const v1 = this.controllers instanceof V1Cgroup ? this.controllers : undefined;
    const now = this.backends().filter((b) => b !== v1);
    this.created.push(...makeDirs(now.flatMap((b) => b.createTargets())));
    for (const b of now) b.afterCreate();
    this.deferred = v1?.createTargets();
  }

  /**
   * The fds of selfEnterFiles(), in order, opened on a libuv pool thread after making any
   * directory createForSpawn left to make; the caller closes them. Rejects (with nothing made
   * or opened) when a directory or file cannot be made or opened.
   */
  openTasks(): Promise<number[]> {
    const targets = this.deferred ?? [];
    this.deferred = undefined;
    const job = prepareAsync(targets, this.selfEnterFiles()).then((r) => {
      this.created.push(...r.made);
      return r.fds;
    });
    // destroy() waits for it: a directory made after its rmdirs would stay behind.
    this.pending = job.then(
      () => {},
      () => {},
    );
    return job;
  }

  /** Directories create() made that did not exist before, outermost first. */
  createdDirs(): readonly string[] {
    return this.created;
  }

  /** Moves pid (and its threads) into the container's cgroup in every hierarchy (one native call). */
  enter(pid: number): void {
    enterAll(this.procsPaths(), pid);
  }

  /**
   * The cgroup v1 `tasks` files a new process writes "0" to, to join by itself: every v1
   * hierarchy (none on a v2 host), the unified one being joined by CLONE_INTO_CGROUP.
   */
  selfEnterFiles(): string[] {
    return this.controllers instanceof V1Cgroup ? this.controllers.tasksFiles() : [];
  }

  /** Every cgroup.procs file a process must be written to (for a native core that joins itself). */
  procsPaths(): string[] {
    return this.backends().flatMap((b) => b.procsFiles());
  }

  /** The cgroup v2 directory (for CLONE_INTO_CGROUP), or undefined on a pure v1 host. */
  unifiedDir(): string | undefined {
    if (this.controllers instanceof V2Cgroup) return this.controllers.dir;
    return this.placement?.dir;
  }

  pids(): number[] {
    return this.controllers.pids();
  }

  private freezer(): CgroupBackend {
    if (this.controllers.canFreeze()) return this.controllers;
    if (this.placement?.canFreeze()) return this.placement;
    throw new CgroupError("no freezer: neither the v1 freezer controller nor cgroup.freeze is available", "");
  }

  /** Freezes every process, resolving once the kernel reports the cgroup really frozen. */
  async freeze(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    await this.freezer().freeze(timeoutMs);
  }

  async thaw(): Promise<void> {
    await this.freezer().thaw();
  }

  /** "absent" when a directory is missing; "thawed" when the host has no freezer at all. */
  state(): CgroupState {
    if (!this.dirs().every((d) => existsDir(d))) return "absent";
    return this.canFreeze() ? this.freezer().freezerState() : "thawed";
  }

  private canFreeze(): boolean {
    return this.controllers.canFreeze() || this.placement?.canFreeze() === true;
  }

  /**
   * Sends signal to every process in the cgroup. SIGKILL uses cgroup.kill where the kernel has
   * it; otherwise the cgroup is frozen while pids are listed and signalled (so none forks past
   * the list), and SIGKILL is repeated until the cgroup is empty or timeoutMs passes.
   */
  async kill(signal: NodeJS.Signals | number = "SIGKILL", timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const isKill = signal === "SIGKILL" || signal === 9;
    const deadline = Date.now() + timeoutMs;
    if (this.state() === "absent") return;
    if (isKill && this.backends().some((b) => b.version === 2 && b.killAll())) {
      // In hybrid mode a task frozen by the v1 freezer dies only once thawed.
      if (this.state() !== "thawed") await this.thaw();
      await this.waitEmpty(deadline);
      return;
    }
    for (;;) {
      await this.signalOnce(signal);
      if (!isKill) return;
      try {
        await this.waitEmpty(Math.min(deadline, Date.now() + 100));
        return;
      } catch (e) {
        if (Date.now() >= deadline) throw e;
      }
    }
  }

  private async signalOnce(signal: NodeJS.Signals | number): Promise<void> {
    const isKill = signal === "SIGKILL" || signal === 9;
    const state = this.state();
    if (state === "absent") return;
    let froze = false;
    if (state === "thawed" && this.canFreeze()) {
      try {
        await this.freeze(1000);
        froze = true;
      } catch {
        // Signal without the freezer rather than not at all.
      }
    }
    try {
      for (const pid of this.pids()) {
        try {
          process.kill(pid, signal);
        } catch (e) {
          if (!(e instanceof Error && "code" in e && e.code === "ESRCH")) throw e;
        }
      }
    } finally {
      // A v1-frozen task acts on SIGKILL only once thawed, so a kill always ends thawed.
      if (froze || (isKill && state !== "thawed")) await this.thaw();
    }
  }

  private async waitEmpty(deadline: number): Promise<void> {
    let delay = 1;
    for (;;) {
      const left = this.pids();
      if (left.length === 0) return;
      if (Date.now() >= deadline) {
        throw new CgroupError(`cgroup still has pids ${left.join(", ")} after kill`, this.dirs()[0] ?? "");
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 20);
    }
  }

  /**
   * Removes the container's cgroup in every hierarchy, deepest first, retrying while exiting
   * tasks drain. It kills nothing: call kill() first. Parents that create() made are removed
   * too when they are empty (another container may still use them).
   */
  async destroy(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    // A create still making directories would make them after the rmdirs below.
    this.deferred = undefined;
    await this.pending;
    const deadline = Date.now() + timeoutMs;
    let first: unknown;
    // The usual case, an empty leaf in every hierarchy, is one native call; a cgroup that is
    // still busy (tasks leaving) or has sub-cgroups of its own goes the slow, retrying way.
    for (const { dir } of removeDirs(this.dirs())) {
      try {
        await removeTree(dir, deadline);
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
    const leaves = new Set(this.dirs());
    // Not empty or already gone: it is shared, or someone else removed it.
    removeDirs([...this.created].reverse().filter((d) => !leaves.has(d)));
    this.created = [];
  }

  /**
   * Writes linux.resources to the cgroup files (one writer per controller). Sections this
   * version does not implement yet are listed in the report's `unsupported`, not ignored silently.
   */
  applyResources(resources: LinuxResources): ResourceReport {
    return this.controllers.applyResources(resources);
  }

  /** Usage counters as containerd's Metrics messages (v1 on v1/hybrid hosts, v2 on unified). */
  stats(): CgroupStats {
    const c = this.controllers;
    if (c instanceof V2Cgroup) return { version: 2, metrics: statsV2(c.dir) };
    if (c instanceof V1Cgroup) return { version: 1, metrics: statsV1((ctrl) => c.dirOf(ctrl)) };
    throw new CgroupError("unknown cgroup backend", "");
  }

  /**
   * Where memory events are read: the v1 memory controller's directory, or the v2 directory
   * (memory.events); undefined when the memory controller is not there.
   */
  memoryDir(): { version: 1 | 2; dir: string } | undefined {
    const c = this.controllers;
    if (c instanceof V2Cgroup) return { version: 2, dir: c.dir };
    if (c instanceof V1Cgroup) {
      const dir = c.dirOf("memory");
      return dir === undefined ? undefined : { version: 1, dir };
    }
    return undefined;
  }
}

function existsDir(d: string): boolean {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
}
