// Kubernetes CRI (runtime.v1) against a test containerd's CRI plugin: typed
// RuntimeService/ImageService clients on containerd's gRPC socket, a
// containerd with the pause image and CNI configured, the CRI log file
// format, and counting the shims of one containerd.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import type { Socket } from "node:net";
import { basename, join } from "node:path";
import { ImageService, RuntimeService } from "../../src/api/gen/runtime/v1/api_pb.js";
import { type Containerd, isShimOf, type RuntimeName, startContainerd } from "./containerd.js";
import { grpcClient, type MethodsOf, type TypedClient, typedClient } from "./grpc.js";
import { importPauseImage, PAUSE_IMAGE } from "./pause-image.js";
import { cgroupHierarchies, listPids, processCmdline } from "./proc.js";

/** Debian's containernetworking-plugins. */
export const CNI_BIN_DIR = "/usr/lib/cni";
/** CRI keeps its containers and images in this containerd namespace. */
export const CRI_NAMESPACE = "k8s.io";

export interface CriClient {
  runtime: TypedClient<MethodsOf<typeof RuntimeService>>;
  images: TypedClient<MethodsOf<typeof ImageService>>;
  close(): void;
}

/** RuntimeService + ImageService on containerd's gRPC address (the CRI socket). */
export function criClient(address: string): CriClient {
  const client = grpcClient(address);
  return {
    runtime: typedClient(RuntimeService, client),
    images: typedClient(ImageService, client),
    close: () => client.close(),
  };
}

/**
 * The CNI network for pods that are not on the host network. containerd 1.6
 * always adds its own loopback network for `lo`, and insists that the pod's
 * `eth0` gets an address from the first configured network (else
 * RunPodSandbox fails with "failed to find network info"): so the conf list
 * pairs the loopback plugin with `ptp` (a veth pair, the host end removed
 * with the pod) and host-local IPAM whose state stays in `dataDir`. No
 * bridge, no masquerading, no iptables rules.
 */
export function writeCniConf(confDir: string, dataDir: string): string {
  mkdirSync(confDir, { recursive: true });
  const conf = {
    cniVersion: "1.0.0",
    name: "tsshim-test",
    plugins: [
      {
        type: "ptp",
        ipMasq: false,
        mtu: 1500,
        ipam: {
          type: "host-local",
          dataDir,
          ranges: [[{ subnet: "10.88.77.0/24" }]],
        },
      },
      { type: "loopback" },
    ],
  };
  const path = join(confDir, "10-tsshim-test.conflist");
  writeFileSync(path, JSON.stringify(conf, null, 2));
  return path;
}

/**
 * A containerd with the CRI plugin: sandbox_image = the project's pause
 * image (imported), CNI from Debian's plugins with a conf in the harness
 * dir, runtime handlers runc, crun and tsshim.
 */
export async function startCriContainerd(defaultRuntime: RuntimeName = "runc"): Promise<Containerd> {
  if (!existsSync(join(CNI_BIN_DIR, "loopback")) || !existsSync(join(CNI_BIN_DIR, "ptp"))) {
    throw new Error(`no CNI plugins in ${CNI_BIN_DIR}: apt-get install containernetworking-plugins`);
  }
  // The CNI conf dir must exist before containerd starts (it watches it);
  // it lives in a dir of its own, removed by the test with the containerd.
  const cd = await startContainerd({
    namespace: CRI_NAMESPACE,
    cri: {
      sandboxImage: PAUSE_IMAGE,
      cniBinDir: CNI_BIN_DIR,
      defaultRuntime,
      restrictOomScoreAdj: !hasCapability(CAP_SYS_RESOURCE),
    },
  });
  try {
    writeCniConf(join(cd.dir, "cni", "net.d"), join(cd.dir, "cni", "ipam"));
    await importPauseImage(cd, CRI_NAMESPACE);
  } catch (err) {
    await cd.stop();
    throw err;
  }
  return cd;
}

const CAP_SYS_RESOURCE = 24;

/** Whether this process has capability `cap` in its effective set. */
export function hasCapability(cap: number): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(cap)) & 1n) === 1n;
}

export interface CriLogEntry {
  time: string;
  stream: "stdout" | "stderr";
  /** P: partial line (continued by the next entry of the stream); F: full line. */
  tag: "P" | "F";
  msg: string;
}

/** Parses a CRI log file: `<RFC3339Nano time> <stream> <P|F> <msg>\n` per entry. */
export function parseCriLog(text: string): CriLogEntry[] {
  const out: CriLogEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s.exec(line);
    if (!m) throw new Error(`not a CRI log line: ${JSON.stringify(line)}`);
    out.push({ time: m[1]!, stream: m[2] as "stdout" | "stderr", tag: m[3] as "P" | "F", msg: m[4]! });
  }
  return out;
}

/** The lines of one stream of a CRI log, partial entries joined. */
export function criLogLines(entries: readonly CriLogEntry[], stream: "stdout" | "stderr"): string[] {
  const lines: string[] = [];
  let pending = "";
  for (const e of entries) {
    if (e.stream !== stream) continue;
    pending += e.msg;
    if (e.tag === "F") {
      lines.push(pending);
      pending = "";
    }
  }
  if (pending !== "") lines.push(pending);
  return lines;
}

export function readCriLog(path: string): CriLogEntry[] {
  return parseCriLog(readFileSync(path, "utf8"));
}

/**
 * The shim processes of `cd` whose argv[0] is `program` (default
 * containerd-shim-tsshim-v2; the daemon is spawned with that argv0).
 */
export function shimPids(cd: Containerd, program = "containerd-shim-tsshim-v2"): number[] {
  const out: number[] = [];
  for (const pid of listPids()) {
    const argv = processCmdline(pid);
    if (argv && argv.length > 0 && basename(argv[0]!) === program && isShimOf(argv, cd.address))
      out.push(pid);
  }
  return out;
}

/**
 * What kubelet (cgroupfs driver) does around a pod: it creates the pod's
 * cgroup `parent` (e.g. "/k8s.io/pod-<uid>") in every hierarchy before
 * RunPodSandbox, the runtimes put each container in a child of it, and
 * kubelet removes it after RemovePodSandbox.
 */
export function makePodCgroup(parent: string): void {
  for (const h of cgroupHierarchies()) {
    let dir = h;
    for (const part of parent.split("/").filter(Boolean)) {
      const up = dir;
      dir = join(dir, part);
      if (existsSync(dir)) continue;
      mkdirSync(dir);
      // A v1 cpuset starts with no CPUs and no memory nodes; kubelet copies the parent's.
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        if (existsSync(join(up, f))) writeFileSync(join(dir, f), readFileSync(join(up, f)));
      }
    }
  }
}

/** Removes the pod cgroup in every hierarchy; throws naming each dir that was missing or not empty. */
export function removePodCgroup(parent: string): void {
  const problems: string[] = [];
  for (const h of cgroupHierarchies()) {
    const dir = join(h, parent);
    if (!existsSync(dir)) {
      problems.push(`${dir}: removed by someone else`);
      continue;
    }
    try {
      rmdirSync(dir);
    } catch (e) {
      problems.push(`${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  if (problems.length > 0) throw new Error(`pod cgroup ${parent}:\n  ${problems.join("\n  ")}`);
}

/** What a streaming Exec/Attach gave back. */
export interface StreamResult {
  stdout: string;
  stderr: string;
  /** The v4 status of the error channel (exit code from a Failure's ExitCode cause; 0 on Success). */
  exitCode: number | undefined;
  status: unknown;
}

/**
 * A minimal client for the CRI streaming server (the URL Exec/Attach
 * return): one WebSocket (RFC 6455) connection with the Kubernetes
 * `v4.channel.k8s.io` subprotocol, where each binary message starts with
 * its channel (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize).
 * SPDY, which kubectl uses, is not implemented. `stdin` is sent once, then
 * the client reads until the server closes the connection or `untilStdout`
 * matches what arrived on stdout (Attach never ends by itself).
 */
export async function streamRequest(
  url: string,
  opts: { stdin?: string; untilStdout?: RegExp; timeoutMs?: number } = {},
): Promise<StreamResult> {
  const key = randomBytes(16).toString("base64");
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = request(url, {
      method: "GET",
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Protocol": "v4.channel.k8s.io",
      },
    });
    req.once("upgrade", (res, sock, head) => {
      if (res.headers["sec-websocket-protocol"] !== "v4.channel.k8s.io") {
        sock.destroy();
        reject(new Error(`streaming server chose protocol ${String(res.headers["sec-websocket-protocol"])}`));
        return;
      }
      if (head.length > 0) sock.unshift(head);
      resolve(sock);
    });
    req.once("response", (res) =>
      reject(new Error(`streaming server answered HTTP ${res.statusCode}, not an upgrade`)),
    );
    req.once("error", reject);
    req.end();
  });

  const send = (opcode: number, payload: Buffer): void => {
    const mask = randomBytes(4);
    const len = payload.length;
    const head =
      len < 126
        ? Buffer.from([0x80 | opcode, 0x80 | len])
        : len < 65536
          ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
          : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), u64(len)]);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ mask[i % 4]!;
    socket.write(Buffer.concat([head, mask, body]));
  };

  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let statusText = "";
  let pending = Buffer.alloc(0);
  return await new Promise<StreamResult>((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      let status: unknown;
      let exitCode: number | undefined;
      if (statusText !== "") {
        status = JSON.parse(statusText);
        exitCode = exitCodeOf(status);
      }
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        exitCode,
        status,
      });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `stream ${url}: no end within ${opts.timeoutMs ?? 15_000} ms; stdout so far: ${Buffer.concat(out)}`,
        ),
      );
    }, opts.timeoutMs ?? 15_000);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const frame = parseFrame(pending);
        if (frame === undefined) break;
        pending = pending.subarray(frame.total);
        if (frame.opcode === 0x8) {
          send(0x8, Buffer.alloc(0));
          finish();
          return;
        }
        if (frame.opcode === 0x9) send(0xa, frame.payload);
        if (frame.opcode !== 0x2 || frame.payload.length === 0) continue;
        const data = frame.payload.subarray(1);
        if (frame.payload[0] === 1) out.push(data);
        else if (frame.payload[0] === 2) err.push(data);
        else if (frame.payload[0] === 3) statusText += data.toString();
        if (opts.untilStdout?.test(Buffer.concat(out).toString())) {
          finish();
          return;
        }
      }
    });
    socket.once("close", finish);
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (opts.stdin !== undefined) send(0x2, Buffer.concat([Buffer.from([0]), Buffer.from(opts.stdin)]));
  });
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** One complete server frame at the start of `buf` (servers do not mask), or undefined. */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; total: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = buf[0]! & 0x0f;
  let len = buf[1]! & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    at = 10;
  }
  if (buf.length < at + len) return undefined;
  return { opcode, payload: buf.subarray(at, at + len), total: at + len };
}

/** Exit code from a v4 error-channel Status: 0 for Success, the ExitCode cause for a non-zero exit. */
function exitCodeOf(status: unknown): number | undefined {
  if (typeof status !== "object" || status === null) return undefined;
  if ("status" in status && status.status === "Success") return 0;
  const details = "details" in status ? status.details : undefined;
  const causes =
    typeof details === "object" && details !== null && "causes" in details && Array.isArray(details.causes)
      ? (details.causes as unknown[])
      : [];
  for (const c of causes) {
    if (typeof c === "object" && c !== null && "reason" in c && c.reason === "ExitCode" && "message" in c) {
      return Number(c.message);
    }
  }
  return undefined;
}
