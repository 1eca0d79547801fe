// The long-lived shim daemon: child subreaper and parent of its containers,
// serving the Task API on the socket `start` handed it as fd 3, sending events
// to containerd, logging to the bundle's log FIFO. It exits after Shutdown
// once it owns no container, removing its socket.
import { unlinkSync } from "node:fs";
import { Task } from "../api/gen/containerd/task/v2/shim_pb.js";
import { nativeProc } from "../oci/native-proc.js";
import { Reaper } from "../oci/reaper.js";
import { type ListenTarget, TtrpcServer } from "../ttrpc/server.js";
import type { ServiceImpl } from "../ttrpc/service.js";
import type { ShimArgs } from "./args.js";
import { containerdEventSender } from "./containerd-events.js";
import { EventPublisher } from "./events.js";
import { createLogger, type Logger, openLogFifo } from "./logger.js";
import { compactWhenIdle, daemonCompactor, forkedCompaction, type IdleCompactor } from "./memory.js";
import { listenNativeWire } from "./native-wire.js";
import { type AnswerBoard, TASK_SERVICE_NAMES } from "./task-answers.js";
import { TASK_CODECS } from "./task-codecs.js";
import { TaskService } from "./task-service.js";

const LISTEN_FD = 3;
const EXIT_FLUSH_MS = 5_000;
/** How long an idle shim waits for the Shutdown that normally follows the last Delete. */
const IDLE_EXIT_MS = 10_000;

/**
 * Serves until Shutdown. `listen` is the socket `start` handed over as fd 3,
 * or the path a spare daemon binds when it takes a container (src/shim/spare.ts).
 */
export async function runDaemon(
  args: ShimArgs,
  listen: ListenTarget = { fd: LISTEN_FD },
  opts: { forked?: boolean } = {},
): Promise<void> {
  const bundle = process.cwd();
  const log = createLogger(openLogFifo(bundle), args.debug, { id: args.id, namespace: args.namespace });
  const reaper = Reaper.instance();
  reaper.setSubreaper();
  reaper.onOrphan((exit) => log.debug({ pid: exit.pid, status: exit.status }, "reaped an orphan"));
  // A shim must not vanish without a word: the reason goes to containerd's log first.
  process.on("uncaughtException", (err) => {
    log.fatal({ err: err.stack ?? String(err) }, "uncaught exception: the shim exits");
    removeOwnSocket();
    process.exit(1);
  });
  process.on("unhandledRejection", (reason) => {
    log.error(
      { err: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason) },
      "unhandled rejection",
    );
  });
  // A shim outlives the terminal and containerd that started it.
  process.on("SIGHUP", () => {});
  process.on("SIGPIPE", () => {});

  const ttrpcAddress = process.env["TTRPC_ADDRESS"] ?? "";
  if (ttrpcAddress === "") log.warn("TTRPC_ADDRESS is not set: events cannot reach containerd");
  const events = new EventPublisher(
    ttrpcAddress === "" ? () => Promise.resolve() : containerdEventSender(ttrpcAddress, args.namespace),
    log,
  );

  const server = taskServer(log);

  let exiting = false;
  const shutdown = (): void => {
    if (exiting) return;
    exiting = true;
    log.info("shutting down: no containers left");
    // The socket file goes at once: containerd may close its connection right
    // after Shutdown and run `delete` while the last events are still being
    // flushed, and the launcher answers that without Node only when no socket
    // is left (native/launcher/delete_verb.c). No new container comes here now.
    removeOwnSocket();
    // Answer the Shutdown call first, then leave.
    setImmediate(async () => {
      await Promise.race([events.flushed(), new Promise((r) => setTimeout(r, EXIT_FLUSH_MS))]);
      events.close();
      await server.shutdown().catch(() => undefined);
      process.exit(0);
    });
  };

  // containerd sends Shutdown right after the last Delete; killed in between,
  // it never does (1.6 then reloads this shim as a task without a container
  // and nothing ever stops it), so a shim left idle leaves by itself.
  let idleTimer: NodeJS.Timeout | undefined;
  const onIdle = (): void => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (service.idle) shutdown();
    }, IDLE_EXIT_MS);
  };
  const service = new TaskService(
    { namespace: args.namespace, log, events },
    { onShutdown: shutdown, onIdle },
  );
  serveTasks(
    server,
    service,
    daemonCompactor(process.env, opts.forked === true ? forkedCompaction() : undefined),
  );
  const board = await listenTasks(server, listen);
  if (board !== undefined) service.publishTo(board);
  // Armed from the start too: a shim whose containerd died before it sent
  // Create (killed while `start` ran) is never contacted again for it.
  onIdle();
  log.info("shim daemon serving");
}

/**
 * The shim's ttrpc server: only root or containerd's own uid may drive it, a
 * container never can. The spare's warm-up builds the same (src/shim/warm-up.ts).
 */
export function taskServer(log: Logger): TtrpcServer {
  const native = nativeProc();
  const myUid = process.getuid?.() ?? 0;
  return new TtrpcServer({
    peerCredentials: (fd) => native.peerCredentials(fd),
    authorize: (peer) =>
      peer.credentials === undefined || peer.credentials.uid === 0 || peer.credentials.uid === myUid,
    onError: (err, context) => log.warn({ err: String(err), context }, "ttrpc server error"),
  });
}

/** The Task service, under its v2 and v3 names, each call touching the idle compactor. */
export function serveTasks(server: TtrpcServer, service: TaskService, compactor: IdleCompactor): void {
  registerTasks(server, compactWhenIdle(service.impl(), compactor));
}

/**
 * Registers a Task implementation under both names; Connect and State (a
 * restarted containerd's calls) go through the hand-written codecs.
 */
export function registerTasks(server: TtrpcServer, impl: ServiceImpl<(typeof Task)["method"]>): void {
  for (const name of TASK_SERVICE_NAMES) server.register(Task, impl, { name, codecs: TASK_CODECS });
}

/**
 * An fd goes on the native wire unless TSSHIM_WIRE=net (Node's net.Server, for comparison); the
 * native wire's answer board is returned (src/shim/task-answers.ts).
 */
export async function listenTasks(
  server: TtrpcServer,
  listen: ListenTarget,
): Promise<AnswerBoard | undefined> {
  if (typeof listen === "object" && "fd" in listen && process.env["TSSHIM_WIRE"] !== "net") {
    return listenNativeWire(server, listen.fd);
  }
  await server.listen(listen);
  return undefined;
}

/** The socket file this shim serves on (TSSHIM_SOCKET_PATH) goes with it: nobody else can answer on it. */
function removeOwnSocket(): void {
  const socketPath = process.env["TSSHIM_SOCKET_PATH"];
  if (socketPath === undefined || socketPath === "") return;
  try {
    unlinkSync(socketPath);
  } catch {
    // already gone
  }
}
