// A spare daemon's warm-up. A shim process serves one container (or pod), so
// without this every container would run the shim's code for the first time:
// V8 compiles each function lazily on its first call and its inline caches
// start empty. Measured with two containers in one grouped shim: the second
// Create took 8 ms where the first took 22 (README, Performance). While it
// waits, a spare runs the pure parts of a container's life once — spec
// parsing and validation, the native plan, the Task API and event messages,
// ttrpc framing through a loopback server and client, a log line — and
// creates nothing: no mount, cgroup, process or file is left.
import { unlinkSync } from "node:fs";
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { anyPack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExitSchema,
  TaskStartSchema,
} from "../api/gen/containerd/events/task_pb.js";
import { OptionsSchema } from "../api/gen/containerd/runc/v1/options_pb.js";
import { ForwardRequestSchema } from "../api/gen/containerd/services/events/ttrpc/v1/events_pb.js";
import {
  ConnectResponseSchema,
  CreateTaskRequestSchema,
  CreateTaskResponseSchema,
  DeleteResponseSchema,
  StartResponseSchema,
  StateResponseSchema,
  Task,
  WaitResponseSchema,
} from "../api/gen/containerd/task/v2/shim_pb.js";
import { buildContainerPlan } from "../oci/container-plan.js";
import { nativeProc } from "../oci/native-proc.js";
import { parseSpec } from "../oci/validate.js";
import { TtrpcClient } from "../ttrpc/client.js";
import { TtrpcServer } from "../ttrpc/server.js";
import { listenTasks, serveTasks, taskServer } from "./daemon.js";
import { EventPublisher } from "./events.js";
import { createLogger } from "./logger.js";
import { IdleCompactor } from "./memory.js";
import { TaskService } from "./task-service.js";
import { WARM_UP_SPEC } from "./warm-up-spec.js";

const ID = "tsshim-warm-up";
/**
 * Dial + Connect + State rounds of the warm-up (restartDials). With one, a
 * shim forked off the spare ran those paths in V8's interpreter without
 * feedback; 200 give them bytecode, feedback and baseline code. More rounds
 * (1,000-3,000) optimise them in the spare but not in a fork, whose own
 * Create and Start leave new shapes behind (README, Performance).
 */
const REDIALS = 200;

function roundTrip<D extends DescMessage>(schema: D, init: MessageInitShape<D>): void {
  fromBinary(schema, toBinary(schema, create(schema, init)));
}

function specAndPlan(): void {
  const spec = parseSpec(JSON.stringify(WARM_UP_SPEC));
  buildContainerPlan(spec, `/nonexistent/${ID}`, {
    stdio: { stdin: 0, stdout: 1, stderr: 2 },
    terminal: false,
  });
}

function messages(): void {
  const now = timestampFromDate(new Date());
  const io = { stdin: "", stdout: "/run/fifo/out", stderr: "/run/fifo/err", terminal: false };
  roundTrip(TaskCreateSchema, { containerId: ID, bundle: "/b", io, pid: 1 });
  roundTrip(TaskStartSchema, { containerId: ID, pid: 1 });
  roundTrip(TaskExitSchema, { containerId: ID, id: ID, pid: 1, exitStatus: 0, exitedAt: now });
  roundTrip(TaskDeleteSchema, { containerId: ID, id: ID, pid: 1, exitStatus: 0, exitedAt: now });
  const payload = toBinary(TaskExitSchema, create(TaskExitSchema, { containerId: ID, exitedAt: now }));
  roundTrip(ForwardRequestSchema, {
    envelope: {
      timestamp: now,
      namespace: "default",
      topic: "/tasks/exit",
      event: { typeUrl: "x", value: payload },
    },
  });
}

/** One call of each method a `ctr run --rm` makes, through real framing on a socket. */
async function ttrpcLoopback(): Promise<void> {
  const path = `/run/${ID}-${process.pid}.sock`;
  const fd = nativeProc().listenUnix(path, 4);
  const server = new TtrpcServer();
  server.register(Task, {
    connect: () => create(ConnectResponseSchema, { shimPid: process.pid, taskPid: 1 }),
    create: (req) => create(CreateTaskResponseSchema, { pid: req.rootfs.length }),
    start: () => create(StartResponseSchema, { pid: 1 }),
    state: (req) => create(StateResponseSchema, { id: req.id, pid: 1 }),
    wait: () => create(WaitResponseSchema, { exitStatus: 0 }),
    delete: () => create(DeleteResponseSchema, { pid: 1 }),
  });
  let client: TtrpcClient | undefined;
  try {
    await listenTasks(server, { fd });
    client = new TtrpcClient(path);
    const task = client.service(Task);
    const rootfs = [
      { type: "overlay", source: "overlay", target: "", options: ["lowerdir=/a", "upperdir=/b"] },
    ];
    const options = anyPack(OptionsSchema, create(OptionsSchema, { binaryName: "" }));
    await task.connect({ id: ID }, { timeoutMs: 2_000 });
    await task.create(
      { id: ID, bundle: "/b", rootfs, stdout: "/o", stderr: "/e", options },
      { timeoutMs: 2_000 },
    );
    await task.start({ id: ID }, { timeoutMs: 2_000 });
    await task.state({ id: ID }, { timeoutMs: 2_000 });
    await task.wait({ id: ID }, { timeoutMs: 2_000 });
    await task.delete({ id: ID }, { timeoutMs: 2_000 });
    // An unimplemented method: the error path every failing call takes.
    await task.pids({ id: ID }, { timeoutMs: 2_000 }).catch(() => undefined);
    roundTrip(CreateTaskRequestSchema, { id: ID, rootfs, options });
  } finally {
    client?.close();
    await server.shutdown().catch(() => undefined);
    try {
      unlinkSync(path); // bound natively: nobody else unlinks it
    } catch {
      // gone
    }
  }
}

function logLine(): void {
  // fd -1: pino formats, nothing is written.
  const log = createLogger(-1, true, { id: ID, namespace: "default" }).child({ container: ID });
  log.debug({ ms: { core: 1 } }, "created");
  log.info({ pid: 1, status: 0 }, "process exited");
}

function runSteps(steps: readonly (() => void)[]): void {
  for (const step of steps) {
    try {
      step();
    } catch {
      // warming is best effort: a failed step only loses its own warming
    }
  }
}

/**
 * The steps that read nothing of the host and keep no state: safe while the
 * V8 startup snapshot is built (scripts/snapshot-entry.mjs), whose compiled
 * functions every shim then starts with.
 */
export function warmUpPure(): void {
  runSteps([() => parseSpec(JSON.stringify(WARM_UP_SPEC)), messages, logLine]);
}

/**
 * What a restarted containerd does to every shim, one after another: dial and
 * Connect (then State, later). Served by the daemon's own stack (server, Task
 * service, native wire) and asked the way containerd asks (namespace metadata,
 * a deadline), so a shim forked off this spare meets that call with compiled
 * code instead of compiling it then (README, Performance).
 */
async function restartDials(redials: number): Promise<void> {
  const path = `/run/${ID}-dials-${process.pid}.sock`;
  const fd = nativeProc().listenUnix(path, 4);
  const log = createLogger(-1, false, { id: ID, namespace: "default" });
  const events = new EventPublisher(() => Promise.resolve(), log);
  const service = new TaskService({ namespace: "default", log, events }, { onShutdown: () => {} });
  const compactor = new IdleCompactor(() => {}, 60_000);
  const server = taskServer(log);
  serveTasks(server, service, compactor);
  const asContainerd = { timeoutMs: 5_000, metadata: { "containerd-namespace-ttrpc": "default" } };
  try {
    await listenTasks(server, { fd });
    for (let i = 0; i < redials; i++) {
      const client = new TtrpcClient(path);
      try {
        const task = client.service(Task);
        await task.connect({ id: ID }, asContainerd);
        await task.state({ id: ID }, asContainerd).catch(() => undefined); // no such task: NotFound
      } finally {
        client.close();
      }
    }
  } finally {
    compactor.stop();
    events.close();
    await server.shutdown().catch(() => undefined);
    try {
      unlinkSync(path);
    } catch {
      // gone
    }
  }
}

/** Everything, in a running spare (the plan reads and caches host facts). */
export async function warmUp(redials = REDIALS): Promise<void> {
  runSteps([specAndPlan, messages, logLine]);
  await ttrpcLoopback().catch(() => undefined);
  await restartDials(redials).catch(() => undefined);
}
