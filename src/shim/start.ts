// The `start` verb: on every container's critical path, so it does almost
// nothing — derive the socket, reuse the group's running shim or spawn a
// detached daemon that inherits the listening socket as fd 3, record the
// address in the bundle, print it, exit.
import { spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { socketFd } from "../ttrpc/server.js";
import {
  canConnect,
  DEFAULT_SOCKET_DIR,
  GROUP_ANNOTATION,
  groupingId,
  socketAddress,
  socketPath,
} from "./address.js";
import type { ShimArgs } from "./args.js";
import { daemonEnvironment } from "./environment.js";
import { guardSocketUntilConnected } from "./socket-guard.js";

export interface StartResult {
  readonly address: string;
  /** false when an existing shim of the same group took the container. */
  readonly spawned: boolean;
  readonly pid?: number;
}

/** Reads the annotations that decide grouping; the spec is validated later by the daemon. */
function readAnnotations(bundle: string): Record<string, string> | undefined {
  try {
    const spec: unknown = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
    if (typeof spec === "object" && spec !== null && "annotations" in spec) {
      const a = (spec as { annotations?: unknown }).annotations;
      if (typeof a === "object" && a !== null) return a as Record<string, string>;
    }
  } catch {
    // A missing or broken config.json is reported by Create with the field named.
  }
  return undefined;
}

/** Where the host-wide options live; TSSHIM_CONFIG names another file (tests, benches). */
export const DEFAULT_CONFIG_PATH = "/etc/tsshim/config.json";

export type HostGrouping = "container" | "namespace";

/**
 * The host-wide grouping mode: TSSHIM_GROUPING in containerd's environment,
 * else `grouping` in the config file, else "container" (containerd's own
 * behaviour: one shim per container, or per pod).
 */
export function hostGrouping(env: NodeJS.ProcessEnv, readConfig: (path: string) => string): HostGrouping {
  let value = env["TSSHIM_GROUPING"];
  if (value === undefined || value === "") {
    try {
      const cfg: unknown = JSON.parse(readConfig(env["TSSHIM_CONFIG"] ?? DEFAULT_CONFIG_PATH));
      if (typeof cfg === "object" && cfg !== null && "grouping" in cfg) {
        const g = (cfg as { grouping?: unknown }).grouping;
        if (typeof g === "string") value = g;
      }
    } catch {
      // No config file (the usual case) or an unreadable one: the default.
    }
  }
  if (value === undefined || value === "" || value === "container") return "container";
  if (value === "namespace") return "namespace";
  throw new Error(`start: unknown grouping mode ${JSON.stringify(value)} (want "container" or "namespace")`);
}

/**
 * The group whose shim takes this container. A named group (annotation)
 * always wins; in namespace mode every other container of the namespace
 * shares one shim, pods included.
 */
export function shimGroup(
  id: string,
  namespace: string,
  annotations: Readonly<Record<string, string>> | undefined,
  mode: HostGrouping,
): string {
  const named = annotations?.[GROUP_ANNOTATION];
  if (mode === "namespace" && (named === undefined || named === "")) return `namespace:${namespace}`;
  return groupingId(id, annotations);
}

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ path, backlog: 128 }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** Writes a file atomically the way containerd's shims do (temp + rename). */
export function writeAtomic(path: string, content: string): void {
  const dir = join(path, "..");
  const tmp = join(dir, `.${path.slice(dir.length + 1)}`);
  const fd = openSync(tmp, "w", 0o644);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A shim is a little more killable than containerd (its parent), as containerd's own shims. */
export function adjustOomScore(pid: number, containerdPid: number = process.ppid): void {
  try {
    const parent = Number.parseInt(readFileSync(`/proc/${containerdPid}/oom_score_adj`, "utf8"), 10);
    const score = Math.min(1000, (Number.isFinite(parent) ? parent : 0) + 1);
    writeAtomicProc(`/proc/${pid}/oom_score_adj`, String(score));
  } catch {
    // Best effort, as containerd's shims: a shim with the default score still works.
  }
}

function writeAtomicProc(path: string, value: string): void {
  const fd = openSync(path, "w");
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

/**
 * False when stdin cannot be a BootstrapParams for this shim: such a message
 * carries the id and namespace verbatim, so both must occur in its bytes.
 * Lets the verb skip loading protobuf for containerd 1.6/1.7's runtime options.
 */
export function mayBeBootstrap(stdin: Uint8Array, id: string, namespace: string): boolean {
  if (stdin.length === 0) return false;
  const buf = Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength);
  return buf.includes(id) && buf.includes(namespace);
}

/** The plain address, or the version 3 JSON when containerd allows it (MAX_SHIM_VERSION >= 3). */
export function formatLegacyOutput(address: string, maxShimVersion: string | undefined): Uint8Array {
  const max = Number.parseInt(maxShimVersion ?? "", 10);
  if (Number.isFinite(max) && max >= 3) {
    return Buffer.from(JSON.stringify({ version: 3, address, protocol: "ttrpc" }));
  }
  return Buffer.from(address);
}

export interface StartOptions {
  /** Node's arguments that run the daemon (an entry script, or a snapshot blob and `--`); the shim flags follow. */
  readonly daemonArgs: readonly string[];
  readonly socketDir?: string;
}

export interface GroupSocket {
  readonly path: string;
  readonly address: string;
}

/** The socket of the shim that takes this container (its group's), its directory created. */
export function groupSocket(
  args: ShimArgs,
  bundle: string,
  env: NodeJS.ProcessEnv,
  socketDir: string | undefined,
): GroupSocket {
  if (args.id === "") throw new Error("start: -id is required");
  if (args.namespace === "") throw new Error("start: -namespace is required");
  const mode = hostGrouping(env, (p) => readFileSync(p, "utf8"));
  const group = shimGroup(args.id, args.namespace, readAnnotations(bundle), mode);
  const dir = socketDir ?? env["TSSHIM_SOCKET_DIR"] ?? DEFAULT_SOCKET_DIR;
  const path = socketPath(dir, args.address, args.namespace, group);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  return { path, address: socketAddress(path) };
}

export async function startShim(args: ShimArgs, bundle: string, opts: StartOptions): Promise<StartResult> {
  const { path, address } = groupSocket(args, bundle, process.env, opts.socketDir);

  let server: Server | undefined;
  for (let attempt = 0; server === undefined; attempt++) {
    try {
      server = await listen(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt > 0) throw err;
      // A shim of this group already runs: it takes the new container too.
      if (await canConnect(path)) {
        writeAtomic(join(bundle, "address"), address);
        return { address, spawned: false };
      }
      unlinkSync(path); // stale socket of a dead shim
    }
  }
  try {
    chmodSync(path, 0o600);
    const fd = socketFd(server);
    if (fd < 0) throw new Error("listening socket has no file descriptor");
    const flags = ["-namespace", args.namespace, "-id", args.id, "-address", args.address];
    if (args.publishBinary !== "") flags.push("-publish-binary", args.publishBinary);
    if (args.debug) flags.push("-debug");
    const child = spawn(process.execPath, [...process.execArgv, ...opts.daemonArgs, ...flags], {
      cwd: bundle,
      // Operators (and containerd's tooling) recognise shims by name in ps.
      argv0: "containerd-shim-tsshim-v2",
      detached: true,
      stdio: ["ignore", "ignore", "ignore", fd],
      env: daemonEnvironment(process.env, {
        TSSHIM_SOCKET_PATH: path,
        // How it booted, readable in /proc/PID/environ (as the launcher's spares have it).
        TSSHIM_BOOT: opts.daemonArgs.includes("--snapshot-blob") ? "snapshot" : "bundle",
      }),
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error("start: failed to spawn the shim daemon");
    child.unref();
    writeAtomic(join(bundle, "shim.pid"), String(pid));
    writeAtomic(join(bundle, "address"), address);
    adjustOomScore(pid);
    guardSocketUntilConnected(pid, path, bundle);
    return { address, spawned: true, pid };
  } catch (err) {
    server.close(); // also unlinks the socket
    throw err;
  }
  // On success the server is never closed here: Node would unlink the socket
  // the daemon now serves. The verb's process exits right after printing.
}
