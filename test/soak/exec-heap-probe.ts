// Where a shim's memory goes over many execs, from inside: runs N execs
// against one tsshim shim in a private containerd and, every EVERY execs,
// reads the daemon's process.memoryUsage() through the inspector (SIGUSR1,
// then the DevTools protocol on 127.0.0.1:9229) next to its RSS and the
// malloc [heap] segment from /proc/PID/smaps. At the end one full GC (twice,
// HeapProfiler.collectGarbage) and malloc_trim show what was retained.
// Not a test (the inspector port is host-wide): run it by hand.
//
//   npm run build && N=10000 EVERY=1000 node dist/test/soak/exec-heap-probe.js
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { get, request } from "node:http";
import type { Socket } from "node:net";
import { packJsonAny, specTypeUrls } from "../../src/api/typeurl.js";
import { isShimOf, repoRoot, startContainerd } from "../helpers/containerd.js";
import { containerdClient } from "../helpers/grpc.js";
import { importBusyboxImage } from "../helpers/image.js";
import { listPids, processCmdline, sleep } from "../helpers/proc.js";

const N = Number(process.env.N ?? 10_000);
const EVERY = Number(process.env.EVERY ?? 1_000);

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve(JSON.parse(body)));
    }).on("error", reject);
  });
}

interface Cdp {
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

/** A minimal WebSocket client (text frames, client masking) for the DevTools protocol. */
function connectCdp(url: string): Promise<Cdp> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
      },
    });
    req.on("upgrade", (_res, sock: Socket) => {
      let buf = Buffer.alloc(0);
      let parts: Buffer[] = [];
      const waiters = new Map<number, (m: Record<string, unknown>) => void>();
      let next = 0;
      sock.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (buf.length < 2) return;
          const fin = (buf[0]! & 0x80) !== 0;
          let len = buf[1]! & 0x7f;
          let off = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = buf.readUInt16BE(2);
            off = 4;
          } else if (len === 127) {
            if (buf.length < 10) return;
            len = Number(buf.readBigUInt64BE(2));
            off = 10;
          }
          if (buf.length < off + len) return;
          parts.push(buf.subarray(off, off + len));
          buf = buf.subarray(off + len);
          if (!fin) continue;
          const msg = JSON.parse(Buffer.concat(parts).toString("utf8")) as Record<string, unknown>;
          parts = [];
          const id = msg["id"];
          if (typeof id === "number") {
            waiters.get(id)?.(msg);
            waiters.delete(id);
          }
        }
      });
      resolve({
        send: (method, params = {}) =>
          new Promise((done) => {
            const id = ++next;
            waiters.set(id, done);
            const payload = Buffer.from(JSON.stringify({ id, method, params }));
            const mask = randomBytes(4);
            let head: Buffer;
            if (payload.length < 126) head = Buffer.from([0x81, 0x80 | payload.length]);
            else if (payload.length < 65_536) {
              head = Buffer.from([0x81, 0x80 | 126, 0, 0]);
              head.writeUInt16BE(payload.length, 2);
            } else {
              head = Buffer.alloc(10);
              head[0] = 0x81;
              head[1] = 0x80 | 127;
              head.writeBigUInt64BE(BigInt(payload.length), 2);
            }
            const masked = Buffer.alloc(payload.length);
            for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
            sock.write(Buffer.concat([head, mask, masked]));
          }),
        close: () => sock.destroy(),
      });
    });
    req.on("error", reject);
    req.end();
  });
}

function kib(pid: number, field: "VmRSS"): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+)`, "m"));
  return Number(m?.[1]);
}

/** Rss of the malloc [heap] segment, KiB. */
function mallocHeapKiB(pid: number): number {
  let inHeap = false;
  let total = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inHeap = line.endsWith("[heap]");
    else if (inHeap && line.startsWith("Rss:")) total += Number(line.split(/\s+/)[1]);
  }
  return total;
}

const cd = await startContainerd();
try {
  const image = await importBusyboxImage(cd);
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, "ex", "sleep", "3600"]);
  if (run.code !== 0) throw new Error(run.stderr);
  const shim = listPids().find((pid) => {
    const argv = processCmdline(pid);
    return argv !== undefined && isShimOf(argv, cd.address) && argv[argv.indexOf("-id") + 1] === "ex";
  });
  if (shim === undefined) throw new Error("no shim");
  process.kill(shim, "SIGUSR1");
  await sleep(500);
  const targets = await getJson("http://127.0.0.1:9229/json/list");
  const target = Array.isArray(targets) ? (targets[0] as { webSocketDebuggerUrl?: unknown }) : undefined;
  if (typeof target?.webSocketDebuggerUrl !== "string") throw new Error("no inspector target on 9229");
  const cdp = await connectCdp(target.webSocketDebuggerUrl);
  const memoryUsage = async (): Promise<NodeJS.MemoryUsage> => {
    const r = await cdp.send("Runtime.evaluate", {
      expression: "JSON.stringify(process.memoryUsage())",
      returnByValue: true,
    });
    const value = (r["result"] as { result?: { value?: unknown } } | undefined)?.result?.value;
    return JSON.parse(String(value)) as NodeJS.MemoryUsage;
  };
  const row = async (label: string): Promise<void> => {
    const m = await memoryUsage();
    const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
    console.log(
      `${label.padEnd(22)} RSS ${kib(shim, "VmRSS")} KiB  heapUsed ${mb(m.heapUsed)} MiB  heapTotal ${mb(m.heapTotal)} MiB  ` +
        `external ${mb(m.external)} MiB  malloc [heap] ${mallocHeapKiB(shim)} KiB`,
    );
  };
  const client = containerdClient(cd.address, cd.namespace);
  await row("@0");
  for (let i = 1; i <= N; i++) {
    const execId = `e${i}`;
    const spec = packJsonAny(specTypeUrls.process, {
      args: ["sh", "-c", `exit ${i % 200}`],
      cwd: "/",
      env: ["PATH=/bin"],
      user: { uid: 0, gid: 0 },
    });
    await client.tasks.exec({ containerId: "ex", execId, spec });
    const waited = client.tasks.wait({ containerId: "ex", execId });
    await client.tasks.start({ containerId: "ex", execId });
    await waited;
    await client.tasks.deleteProcess({ containerId: "ex", execId });
    if (i % EVERY === 0) await row(`@${i} (no GC)`);
  }
  client.close();
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("HeapProfiler.collectGarbage");
  await row(`@${N} after full GC`);
  const addon = `${repoRoot()}/build/Release/tsshim_native.node`;
  await cdp.send("Runtime.evaluate", {
    expression: `(() => { const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(addon)}); return m.exports.memoryTrim(); })()`,
  });
  await row(`@${N} + malloc_trim`);
  cdp.close();
} finally {
  await cd.stop();
}
