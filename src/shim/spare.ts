// A spare daemon: a shim that booted before its container existed. The C
// launcher (native/launcher) hands it a `start` request — argv, environment,
// bundle, stdin — and it answers as the `start` verb would: with the address
// of the group's running shim, or with a shim of its own for the container,
// which takes Node's boot off the container's critical path.
//
// Two modes: `spare` listens on the shared socket the launcher bound (fd 3)
// and serves starts for as long as it lives: for each new container it forks
// itself (native/fork_detached.h) and the fork, booted and warm, becomes the
// shim (binding the group socket, then serving the Task API) while the spare
// waits for the next start; shims share the spare's memory until they write
// to it. `adopt` was started for one request (fd 3 is a connected socket):
// it becomes the shim itself, or exits. TSSHIM_FORK=0: a shared spare
// becomes the shim too, and the launcher starts the next spare.
import { chmodSync, readlinkSync, statSync, unlinkSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { setPriority } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../oci/addon.js";
import { nativeProc } from "../oci/native-proc.js";
import { socketFd } from "../ttrpc/server.js";
import { canConnect } from "./address.js";
import type { ShimArgs } from "./args.js";
import { parseShimArgs } from "./args.js";
import { daemonEnvironment } from "./environment.js";
import { guardCommand } from "./socket-guard.js";
import { spareSocketPath } from "./spare-path.js";
import {
  decodeRequest,
  encodeReply,
  REQUEST_LIMIT,
  type StartReply,
  type StartRequest,
} from "./spare-protocol.js";
import {
  adjustOomScore,
  formatLegacyOutput,
  type GroupSocket,
  groupSocket,
  mayBeBootstrap,
  writeAtomic,
} from "./start.js";

const SPARE_FD = 3;
/** How long a spare waits for its first container before leaving (TSSHIM_SPARE_IDLE_MS). */
const DEFAULT_IDLE_MS = 10 * 60_000;
/** How often a shared spare checks that its socket path is still its own. */
const PATH_CHECK_MS = 2_000;
const REQUEST_TIMEOUT_MS = 10_000;
export const SPARE_NAME = "tsshim-spare";
/**
 * take()'s result when the spare must not answer: it forked the container's
 * shim, which answers on its copy of the connection; or it could not fork,
 * and the launcher, left without an answer, boots a shim for the request.
 */
const NO_ANSWER = Symbol("no answer");

export type SpareMode = "spare" | "adopt";

/** The shim's own flags, as a shim started for this container shows them in ps. */
export function daemonCommandLine(args: ShimArgs): string[] {
  const argv = [
    "containerd-shim-tsshim-v2",
    "-namespace",
    args.namespace,
    "-id",
    args.id,
    "-address",
    args.address,
  ];
  if (args.publishBinary !== "") argv.push("-publish-binary", args.publishBinary);
  if (args.debug) argv.push("-debug");
  return argv;
}

function readAll(sock: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => reject(new Error("no complete request within 10 s")), REQUEST_TIMEOUT_MS);
    sock.on("data", (c: Buffer) => {
      size += c.length;
      if (size > REQUEST_LIMIT) {
        clearTimeout(timer);
        reject(new Error(`request larger than ${REQUEST_LIMIT} bytes`));
        sock.destroy();
        return;
      }
      chunks.push(c);
    });
    sock.once("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    sock.resume(); // accepted paused (Spare.run)
    sock.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function answer(sock: Socket, reply: StartReply): Promise<void> {
  return new Promise((resolve) => {
    sock.end(encodeReply(reply), () => resolve());
    sock.once("error", () => resolve());
  });
}

function failure(message: string): StartReply {
  return { status: 1, adopted: false, output: Buffer.from(`containerd-shim-tsshim-v2: ${message}\n`) };
}

type StartInput = Awaited<ReturnType<typeof startInput>>;

/** What the `start` verb needs from a request that is not the argv: stdin decoded. */
async function startInput(req: StartRequest, args: ShimArgs) {
  if (!mayBeBootstrap(req.stdin, args.id, args.namespace)) {
    return {
      socketDir: undefined,
      ttrpcAddress: undefined,
      output: (address: string) => formatLegacyOutput(address, req.env["MAX_SHIM_VERSION"]),
    };
  }
  const boot = await import("./bootstrap.js");
  const input = boot.parseStartInput(req.stdin, args.id, args.namespace);
  const params = input.kind === "bootstrap" ? input.params : undefined;
  return {
    socketDir: params?.socketDir === "" ? undefined : params?.socketDir,
    ttrpcAddress: params?.containerdTtrpcAddress === "" ? undefined : params?.containerdTtrpcAddress,
    output: (address: string) => boot.formatStartOutput(address, input, req.env["MAX_SHIM_VERSION"]),
  };
}

class Spare {
  private adopted = false;
  private busy = Promise.resolve();
  /** Connections accepted and not yet served. */
  private readonly waiting = new Set<Socket>();
  /** Stops serving starts; the shared socket's file is removed only by the spare that owns it (not a fork). */
  private closeListener: (unlinkPath: boolean) => void = () => {};
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly booted = buildIdentity();

  constructor(
    private readonly mode: SpareMode,
    /** The shared socket's path (mode `spare`), which the launcher bound. */
    private readonly path: string,
  ) {}

  run(): void {
    nativeProc().setProcessTitle(SPARE_NAME, null);
    // The launcher started a shared spare at nice 10 so that its boot took
    // little from running containers; booted, it serves at the default.
    if (this.mode === "spare") setPriority(0);
    const fdSock =
      this.mode === "adopt"
        ? new Socket({ fd: SPARE_FD, readable: true, writable: true, allowHalfOpen: true })
        : undefined;
    if (fdSock !== undefined) {
      this.serve(fdSock).then(() => {
        if (!this.adopted) process.exit(0);
      });
      return;
    }
    // Paused until served: a shim forked meanwhile has a copy of every
    // waiting connection, and must never read (steal) a byte of one.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => {
      this.waiting.add(sock);
      // One request at a time: the first that adopts this process ends its spare life.
      this.busy = this.busy.then(() => {
        this.waiting.delete(sock);
        return this.adopted ? void sock.destroy() : this.serve(sock);
      });
    });
    server.listen({ fd: SPARE_FD });
    const path = this.path;
    const ino = inode(path);
    const check = setInterval(() => {
      if (ino === undefined || inode(path) !== ino) this.leave();
    }, PATH_CHECK_MS);
    check.unref();
    this.closeListener = (unlinkPath) => {
      clearInterval(check);
      clearTimeout(this.idleTimer);
      if (unlinkPath && ino !== undefined && inode(path) === ino) removeQuietly(path);
      server.close();
    };
    // Ready: the launcher connects only to a socket with this (otherwise
    // meaningless) sticky bit, so no start waits for a spare still booting.
    if (ino !== undefined) chmodSync(path, 0o1600);
    this.armIdleTimer();
  }

  /** A spare leaves after TSSHIM_SPARE_IDLE_MS without a start. */
  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    const idleMs = Number.parseInt(process.env["TSSHIM_SPARE_IDLE_MS"] ?? "", 10);
    this.idleTimer = setTimeout(
      () => this.leave(),
      Number.isFinite(idleMs) && idleMs > 0 ? idleMs : DEFAULT_IDLE_MS,
    );
  }

  private leave(): void {
    if (this.adopted) return;
    this.closeListener(true);
    process.exit(0);
  }

  private async serve(sock: Socket): Promise<void> {
    sock.on("error", () => {});
    const fd = socketFd(sock);
    try {
      const peer = nativeProc().peerCredentials(fd);
      const me = process.getuid?.() ?? 0;
      if (peer.uid !== 0 && peer.uid !== me) {
        await answer(sock, failure(`spare: peer uid ${peer.uid} may not start shims`));
        return;
      }
    } catch (err) {
      await answer(sock, failure(`spare: cannot read the peer's credentials: ${String(err)}`));
      return;
    }
    if (buildIdentity() !== this.booted) {
      // Installed code changed since this spare booted: no answer makes the
      // launcher start a fresh one for this request, and this one leaves.
      sock.destroy();
      if (!this.adopted) this.leave();
      return;
    }
    let req: StartRequest;
    try {
      req = decodeRequest(await readAll(sock));
    } catch (err) {
      await answer(sock, failure(`spare: bad request: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    const reply = await this.take(req).catch((err: unknown) =>
      failure(err instanceof Error ? err.message : String(err)),
    );
    if (reply === NO_ANSWER) return void sock.destroy();
    await answer(sock, reply);
    // Failed half-way through becoming a shim: no longer a spare, not a shim.
    if (this.adopted && reply.status !== 0) process.exit(1);
  }

  /** The `start` verb for this request, run here (or NO_ANSWER). */
  private async take(req: StartRequest): Promise<StartReply | typeof NO_ANSWER> {
    const args = parseShimArgs(req.argv.slice(1));
    if (args.action !== "start")
      throw new Error(`spare: only start is handed to a spare, not ${JSON.stringify(args.action)}`);
    // A request can wait here while containerd is killed and, restarted,
    // removes the bundle: nothing to start then (checked again by chdir).
    if (inode(req.cwd) === undefined) throw new Error(`start: the bundle ${req.cwd} is gone`);
    const env = daemonEnvironment(req.env);
    const input = await startInput(req, args);
    const { path, address } = groupSocket(args, req.cwd, env, input.socketDir);
    const fd = await claimSocket(path);
    if (fd === undefined) {
      // The group's shim runs: it takes this container, and we stay spare.
      writeAtomic(join(req.cwd, "address"), address);
      return { status: 0, adopted: false, output: input.output(address) };
    }
    const bound = inode(path);
    // A shared spare forks the container's shim off itself and stays; one
    // started for this request (or TSSHIM_FORK=0) becomes the shim.
    const fork = this.mode === "spare" && process.env["TSSHIM_FORK"] !== "0";
    if (fork) {
      let child: number;
      try {
        child = nativeProc().forkDetached();
      } catch {
        // No fork (a pids limit, memory): give the group socket back and do
        // not answer, so that the launcher boots a shim for this request.
        nativeProc().closeFd(fd);
        removeQuietly(path);
        return NO_ANSWER;
      }
      if (child > 0) {
        nativeProc().closeFd(fd);
        this.armIdleTimer();
        return NO_ANSWER;
      }
      // Node read its pid once, at boot.
      Object.defineProperty(process, "pid", { value: Number(readlinkSync("/proc/self")), enumerable: true });
      // The spare serves the starts waiting behind this one.
      for (const sock of this.waiting) sock.destroy();
      this.waiting.clear();
    }
    // This process becomes the container's shim: no other start may use it now.
    this.adopted = true;
    this.closeListener(!fork);
    try {
      return await this.become(req, args, env, input, { path, address, fd }, fork);
    } catch (err) {
      // Half a shim exits (serve): its socket must go with it. Nobody else
      // would remove it when the bundle is gone (containerd, killed during
      // this start, removed it on restart), and a file we bound that is still
      // there is ours: a newer one would have a new inode.
      if (bound !== undefined && inode(path) === bound) removeQuietly(path);
      throw err;
    }
  }

  /** Turns this process into the container's shim, serving on `fd` (bound at `path`). */
  private async become(
    req: StartRequest,
    args: ShimArgs,
    env: NodeJS.ProcessEnv,
    input: StartInput,
    { path, address, fd }: GroupSocket & { readonly fd: number },
    fork: boolean,
  ): Promise<StartReply> {
    process.chdir(req.cwd);
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, env, { TSSHIM_SOCKET_PATH: path });
    if (input.ttrpcAddress !== undefined) process.env["TTRPC_ADDRESS"] = input.ttrpcAddress;
    // The daemon is this request's shim flags without the verb.
    const daemonArgs: ShimArgs = { ...args, action: "", rest: [] };
    try {
      nativeProc().setProcessTitle("containerd-shim", daemonCommandLine(args));
    } catch {
      // Without CAP_SYS_RESOURCE ps keeps showing the spare's flags; the shim works the same.
    }
    const { runDaemon } = await import("./daemon.js");
    await runDaemon(daemonArgs, { fd }, { forked: fork });
    writeAtomic(join(req.cwd, "shim.pid"), String(process.pid));
    writeAtomic(join(req.cwd, "address"), address);
    adjustOomScore(process.pid, req.parentPid > 0 ? req.parentPid : process.ppid);
    // The socket guard (socket-guard.ts), spawned natively: this process now
    // has a reaper, the one owner of wait, so child_process is not for it.
    const guard = guardCommand(process.pid, path, req.cwd);
    if (guard !== undefined) {
      try {
        const { pidfd } = nativeProc().spawn({
          file: guard.file,
          argv: guard.argv,
          envp: Object.entries(guard.env).map(([k, v]) => `${k}=${v}`),
          cwd: "/",
          fds: [-1, -1, -1],
          setsid: true,
        });
        nativeProc().closeFd(pidfd);
      } catch {
        // best effort, as from the Node verb
      }
    }
    // `adopted` tells the launcher that the spare it asked is gone: not so when it forked.
    return { status: 0, adopted: !fork, output: input.output(address) };
  }
}

/**
 * The code a spare booted with: the bundle, the snapshot and the addon
 * (`npm run build` swaps them in with renames, so a new build is a new inode).
 * A spare must not serve a container with code older than the installed one.
 */
function buildIdentity(): string {
  const root = packageRoot();
  return ["dist/bundle/main.mjs", "dist/snapshot/daemon.blob", "build/Release/tsshim_native.node"]
    .map((f) => {
      try {
        const st = statSync(join(root, f));
        return `${st.ino}:${st.mtimeMs}`;
      } catch {
        return "-";
      }
    })
    .join(",");
}

/**
 * The group socket, bound (0600, natively: libuv would unlink the path when
 * the daemon closes it, maybe under the group's next shim) — or undefined
 * when the group's shim answers on it. Binding comes first and a file is
 * removed only when nothing answers on it, as the Node verb does: two starts
 * of one id racing (containerd restarted meanwhile) must not both bind.
 */
async function claimSocket(path: string): Promise<number | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return nativeProc().listenUnix(path, 128);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "EADDRINUSE" || attempt > 0) throw err;
    }
    if (await canConnect(path)) return undefined;
    removeQuietly(path); // a dead shim's socket file
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

function inode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

export async function runSpare(args: ShimArgs, mode: SpareMode): Promise<void> {
  // Everything a shim needs is loaded now, before any container waits for it.
  await import("./daemon.js");
  await import("./bootstrap.js");
  // A shared spare has time (and nice 10): it runs a container's code paths
  // once, so that the container it takes does not pay V8's first-call costs.
  // One started for a waiting request does not.
  if (mode === "spare") {
    await (await import("./warm-up.js")).warmUp();
    // Then it hands back what the boot and the warm-up left (it may wait
    // for minutes, and its memory counts): the compiled code stays.
    (await import("./memory.js")).compactNow();
  }
  new Spare(mode, spareSocketPath(args.address, process.env["TSSHIM_SOCKET_DIR"])).run();
}
