// OOM kills in a container's cgroup → containerd's TaskOOM event. cgroup v1: an eventfd on
// memory.oom_control (registered natively, woken in the libuv loop); cgroup v2: inotify on
// memory.events (fs.watch) and its oom_kill counter. check() reads the counter synchronously,
// so the exit path can publish a pending OOM before the TaskExit of the killed init.
import { existsSync, type FSWatcher, watch } from "node:fs";
import { join } from "node:path";
import { TaskOOMSchema } from "../api/gen/containerd/events/task_pb.js";
import type { CgroupManager } from "../oci/cgroups/index.js";
import { nativeCgroup, type OomWatchHandle } from "../oci/cgroups/native.js";
import { parseKeyValues, readOptional } from "../oci/cgroups/stats-v1.js";
import { publishEvent } from "./publish.js";
import type { ShimContext } from "./shim-container.js";

export class OomWatcher {
  private reported: bigint;
  private v1: OomWatchHandle | undefined;
  private v2: FSWatcher | undefined;

  private constructor(
    private readonly id: string,
    private readonly version: 1 | 2,
    private readonly dir: string,
    private readonly ctx: ShimContext,
  ) {
    this.reported = this.killCount();
  }

  /** Starts watching; undefined when the container has no memory controller to watch. */
  static start(id: string, cgroup: CgroupManager, ctx: ShimContext): OomWatcher | undefined {
    const mem = cgroup.memoryDir();
    if (mem === undefined) return undefined;
    const w = new OomWatcher(id, mem.version, mem.dir, ctx);
    if (mem.version === 1) {
      w.v1 = nativeCgroup().cgroupOomWatch(mem.dir, () => w.onV1Event());
    } else {
      if (!existsSync(join(mem.dir, "memory.events"))) return undefined;
      w.v2 = watch(join(mem.dir, "memory.events"), { persistent: false }, () => w.check());
      w.v2.on("error", () => w.stop());
    }
    return w;
  }

  /** The kernel's oom_kill counter of the cgroup (0 when the cgroup is gone). */
  private killCount(): bigint {
    const file = this.version === 1 ? "memory.oom_control" : "memory.events";
    return parseKeyValues(readOptional(join(this.dir, file)) ?? "").get("oom_kill") ?? 0n;
  }

  private onV1Event(): void {
    // The kernel also signals the eventfd when the cgroup is removed: that is no OOM.
    if (!existsSync(join(this.dir, "cgroup.event_control"))) {
      this.stop();
      return;
    }
    const now = this.killCount();
    const underOom = parseKeyValues(readOptional(join(this.dir, "memory.oom_control")) ?? "").get(
      "under_oom",
    );
    // A kill check() already reported is not reported twice; an OOM with the killer
    // disabled (under_oom, no kill) is reported as containerd's shims do.
    if (now > this.reported || underOom === 1n) {
      this.reported = now;
      this.publish();
    }
  }

  /** Publishes a TaskOOM if the kill counter moved since the last report. */
  check(): void {
    const now = this.killCount();
    if (now <= this.reported) return;
    this.reported = now;
    this.publish();
  }

  private publish(): void {
    this.ctx.log.info({ container: this.id }, "OOM in the container's cgroup");
    publishEvent(this.ctx, "/tasks/oom", TaskOOMSchema, { containerId: this.id });
  }

  stop(): void {
    if (this.v1 !== undefined) nativeCgroup().cgroupOomUnwatch(this.v1);
    this.v1 = undefined;
    this.v2?.close();
    this.v2 = undefined;
  }
}
