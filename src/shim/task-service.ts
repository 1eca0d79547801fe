// containerd's Task API (containerd.task.v2.Task, and the same methods as
// containerd.task.v3.Task) over the containers this shim owns. Each method
// checks the request, calls one ShimContainer operation and maps every failure
// to a status once (errors.ts).
import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  TaskDeleteSchema,
  TaskPausedSchema,
  TaskResumedSchema,
} from "../api/gen/containerd/events/task_pb.js";
import { ProcessDetailsSchema } from "../api/gen/containerd/runc/v1/options_pb.js";
import type { Task } from "../api/gen/containerd/task/v2/shim_pb.js";
import { Status } from "../api/gen/containerd/v1/types/task_pb.js";
import { MetricsSchema as V1MetricsSchema } from "../api/gen/io/containerd/cgroups/v1/metrics_pb.js";
import { MetricsSchema as V2MetricsSchema } from "../api/gen/io/containerd/cgroups/v2/metrics_pb.js";
import { packAny, specTypeUrls, unpackJsonAny } from "../api/typeurl.js";
import type { LinuxResources } from "../oci/spec.js";
import { validateExecProcess } from "../oci/validate.js";
import type { ServiceImpl } from "../ttrpc/service.js";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  toStatusError,
  unimplemented,
} from "./errors.js";
import { OomWatcher } from "./oom.js";
import type { ProcessState } from "./process/state.js";
import type { TaskProcess } from "./process/task-process.js";
import { publishEvent } from "./publish.js";
import { ShimContainer, type ShimContext } from "./shim-container.js";
import { type AnswerBoard, publishAnswers } from "./task-answers.js";
import type { ConnectResponseInit, StateResponseInit } from "./task-codecs.js";

export const SHIM_VERSION = "tsshim 0.1.0";

const statusOf: Record<ProcessState, Status> = {
  created: Status.CREATED,
  running: Status.RUNNING,
  pausing: Status.PAUSING,
  paused: Status.PAUSED,
  stopped: Status.STOPPED,
  deleted: Status.STOPPED,
};

function exitedAt(p: TaskProcess): Timestamp | undefined {
  return p.exit === undefined ? undefined : timestampFromDate(p.exit.exitedAt);
}

/** State's answer for one process; published answers are made by this same function. */
function stateAnswer(c: ShimContainer, p: TaskProcess): StateResponseInit {
  const r = p.stdioRequest;
  const state = p.exit !== undefined ? "stopped" : p.machine.state;
  return {
    id: p.id,
    bundle: c.bundle,
    pid: p.pid,
    status: statusOf[state],
    stdin: r.stdin,
    stdout: r.stdout,
    stderr: r.stderr,
    terminal: r.terminal,
    exitStatus: p.exit?.status ?? 0,
    exitedAt: exitedAt(p),
    execId: p.execId,
  };
}

function connectAnswer(c: ShimContainer | undefined): ConnectResponseInit {
  return { shimPid: process.pid, taskPid: c?.init.pid ?? 0, version: SHIM_VERSION };
}

export interface TaskServiceHooks {
  /** Called when Shutdown finds no container left: the daemon exits. */
  onShutdown(): void;
  /** Called when Delete removed the last container (Shutdown normally follows at once). */
  onIdle?(): void;
}

export class TaskService {
  readonly containers = new Map<string, ShimContainer>();
  /** Ids whose Create is in flight: a second Create of the same id is refused at once. */
  private readonly creating = new Set<string>();

  /** No container, none being created. */
  get idle(): boolean {
    return this.containers.size === 0 && this.creating.size === 0;
  }

  /** Where Connect and State answers are published (the native wire), if anywhere. */
  private board: AnswerBoard | undefined;
  /** Per container: calls in flight that can change its Connect or State answers. */
  private readonly changing = new Map<string, number>();
  private readonly ctx: ShimContext;

  constructor(
    ctx: ShimContext,
    private readonly hooks: TaskServiceHooks,
  ) {
    this.ctx = { ...ctx, stateChanged: (id) => this.publish(id) };
  }

  /** Publishes every container's Connect and State answers to `board`, and keeps them current. */
  publishTo(board: AnswerBoard): void {
    this.board = board;
    for (const id of this.containers.keys()) this.publish(id);
  }

  private publish(id: string): void {
    const board = this.board;
    if (board === undefined || this.changing.has(id)) return;
    try {
      const c = this.containers.get(id);
      if (c === undefined) {
        board.clear(id);
        return;
      }
      const states = [c.init, ...c.execs.values()].map((p) => ({
        execId: p.execId,
        state: stateAnswer(c, p),
      }));
      publishAnswers(board, { id, connect: connectAnswer(c), states });
    } catch (err) {
      // Unpublished answers cost speed only: JS answers what the wire does not.
      this.ctx.log.warn({ err: String(err), container: id }, "cannot publish answers");
      try {
        board.clear(id);
      } catch {}
    }
  }

  /** A call that can change container req.id's answers: they are withdrawn while it runs. */
  private changes<A extends { id: string }, R>(fn: (req: A) => Promise<R> | R): (req: A) => Promise<R> | R {
    return (req) => {
      const id = req.id;
      this.changing.set(id, (this.changing.get(id) ?? 0) + 1);
      this.board?.clear(id);
      const done = (): void => {
        const n = (this.changing.get(id) ?? 1) - 1;
        if (n > 0) this.changing.set(id, n);
        else {
          this.changing.delete(id);
          this.publish(id);
        }
      };
      let out: Promise<R> | R;
      try {
        out = fn(req);
      } catch (err) {
        done();
        throw err;
      }
      if (out instanceof Promise) return out.finally(done);
      done();
      return out;
    };
  }

  private readonly oomWatchers = new Map<string, OomWatcher>();

  /** TaskOOM events for the container's cgroup; a host without them only logs why. */
  private watchOom(c: ShimContainer): void {
    if (c.cgroup === undefined) return;
    try {
      const w = OomWatcher.start(c.id, c.cgroup, this.ctx);
      if (w === undefined) return;
      this.oomWatchers.set(c.id, w);
      c.oomWatch = w;
    } catch (err) {
      this.ctx.log.warn({ err: String(err), container: c.id }, "cannot watch OOM events");
    }
  }

  private get(id: string): ShimContainer {
    const c = this.containers.get(id);
    if (c === undefined) throw notFound(`container ${JSON.stringify(id)} not found`);
    return c;
  }

  /** The ttrpc implementation; every handler turns failures into statuses. */
  impl(): ServiceImpl<(typeof Task)["method"]> {
    // A synchronous handler stays synchronous: no promise per call (Connect and
    // State are on a restarted containerd's critical path).
    const guard = <A, R>(what: string, fn: (req: A) => Promise<R> | R) => {
      const fail = (err: unknown): never => {
        this.ctx.log.debug({ err: String(err), method: what }, "request failed");
        throw toStatusError(err, what);
      };
      return (req: A): Promise<R> | R => {
        try {
          const out = fn(req);
          return out instanceof Promise ? out.catch(fail) : out;
        } catch (err) {
          return fail(err);
        }
      };
    };
    return {
      create: guard(
        "create",
        this.changes(async (req) => {
          if (this.containers.has(req.id) || this.creating.has(req.id)) {
            throw alreadyExists(`container ${JSON.stringify(req.id)} already exists`);
          }
          this.creating.add(req.id);
          try {
            const c = await ShimContainer.create(req, this.ctx);
            this.containers.set(req.id, c);
            this.watchOom(c);
            return { pid: c.init.pid };
          } finally {
            this.creating.delete(req.id);
          }
        }),
      ),
      start: guard(
        "start",
        this.changes(async (req) => ({ pid: await this.get(req.id).start(req.execId) })),
      ),
      delete: guard(
        "delete",
        this.changes(async (req) => {
          const c = this.get(req.id);
          if (req.execId !== "") {
            const rec = c.deleteExec(req.execId);
            return { pid: rec.pid, exitStatus: rec.status, exitedAt: timestampFromDate(rec.exitedAt) };
          }
          const rec = await c.delete();
          this.oomWatchers.get(req.id)?.stop();
          this.oomWatchers.delete(req.id);
          this.containers.delete(req.id);
          publishEvent(this.ctx, "/tasks/delete", TaskDeleteSchema, {
            containerId: req.id,
            pid: rec.pid,
            exitStatus: rec.status,
            exitedAt: timestampFromDate(rec.exitedAt),
            id: req.id,
          });
          if (this.idle) this.hooks.onIdle?.();
          return { pid: rec.pid, exitStatus: rec.status, exitedAt: timestampFromDate(rec.exitedAt) };
        }),
      ),
      state: guard("state", (req) => {
        const c = this.get(req.id);
        return stateAnswer(c, c.process(req.execId));
      }),
      pids: guard("pids", (req) => {
        const c = this.get(req.id);
        const execOf = new Map<number, string>();
        for (const e of c.execs.values()) if (e.pid !== 0) execOf.set(e.pid, e.execId);
        const pids = c.cgroup?.pids() ?? [c.init.pid];
        return {
          processes: pids.map((pid) => {
            const execId = execOf.get(pid);
            return execId === undefined
              ? { pid }
              : { pid, info: packAny(ProcessDetailsSchema, create(ProcessDetailsSchema, { execId })) };
          }),
        };
      }),
      pause: guard(
        "pause",
        this.changes(async (req) => {
          const c = this.get(req.id);
          if (c.cgroup === undefined) throw failedPrecondition(`container ${req.id} has no cgroup to freeze`);
          c.init.machine.beginPause();
          try {
            await c.cgroup.freeze();
            c.init.machine.endPause(true);
          } catch (err) {
            c.init.machine.endPause(false);
            throw err;
          }
          publishEvent(this.ctx, "/tasks/paused", TaskPausedSchema, { containerId: req.id });
          return {};
        }),
      ),
      resume: guard(
        "resume",
        this.changes(async (req) => {
          const c = this.get(req.id);
          c.init.machine.check("resume");
          await c.cgroup?.thaw();
          c.init.machine.apply("resume");
          publishEvent(this.ctx, "/tasks/resumed", TaskResumedSchema, { containerId: req.id });
          return {};
        }),
      ),
      checkpoint: guard("checkpoint", () => {
        throw unimplemented("checkpoint is not supported by tsshim (no CRIU integration yet)");
      }),
      kill: guard("kill", async (req) => {
        const c = this.get(req.id);
        if (req.signal === 0 || req.signal > 64) throw invalidArgument(`invalid signal ${req.signal}`);
        await c.kill(req.execId, req.signal, req.all);
        return {};
      }),
      exec: guard(
        "exec",
        this.changes((req) => {
          const c = this.get(req.id);
          if (req.spec === undefined) throw invalidArgument("exec: the process spec is missing");
          const proc = validateExecProcess(unpackJsonAny(req.spec, specTypeUrls.process));
          c.addExec(req, proc);
          return {};
        }),
      ),
      resizePty: guard("resizePty", (req) => {
        if (req.width > 65535 || req.height > 65535) {
          throw invalidArgument(`console size ${req.width}x${req.height} is out of range (max 65535x65535)`);
        }
        this.get(req.id).resize(req.execId, req.width, req.height);
        return {};
      }),
      closeIO: guard("closeIO", (req) => {
        if (req.stdin) this.get(req.id).closeIO(req.execId);
        return {};
      }),
      update: guard("update", (req) => {
        const c = this.get(req.id);
        c.init.machine.check("update");
        if (req.resources === undefined) return {};
        const resources = unpackJsonAny(req.resources, specTypeUrls.linuxResources) as LinuxResources;
        if (c.cgroup === undefined) throw failedPrecondition(`container ${req.id} has no cgroup`);
        const report = c.cgroup.applyResources(resources);
        if (report.unsupported.length > 0) {
          this.ctx.log.warn(
            { container: req.id, unsupported: report.unsupported },
            "update: resource limits this host cannot apply were skipped",
          );
        }
        return {};
      }),
      wait: guard("wait", async (req) => {
        const rec = await this.get(req.id).process(req.execId).wait();
        return { exitStatus: rec.status, exitedAt: timestampFromDate(rec.exitedAt) };
      }),
      stats: guard("stats", (req) => {
        const c = this.get(req.id);
        if (c.cgroup === undefined) throw failedPrecondition(`container ${req.id} has no cgroup`);
        const s = c.cgroup.stats();
        return {
          stats: s.version === 1 ? packAny(V1MetricsSchema, s.metrics) : packAny(V2MetricsSchema, s.metrics),
        };
      }),
      connect: guard("connect", (req) => connectAnswer(this.containers.get(req.id))),
      shutdown: guard("shutdown", () => {
        if (this.idle) this.hooks.onShutdown();
        return {};
      }),
    };
  }
}
