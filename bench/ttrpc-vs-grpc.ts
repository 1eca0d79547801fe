// Unary round trips over a unix socket: our ttrpc vs @grpc/grpc-js, same payload, same handler work,
// same process pattern (server in a child process, client here), same run.
//   node dist/bench/ttrpc-vs-grpc.js [--seconds 3] [--concurrency 1,32]
// Prints a markdown table with calls/s, p50/p90/p99 latency and the ttrpc/grpc ratio.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  Echo,
  type EchoRequest,
  EchoRequestSchema,
  type EchoResponse,
  EchoResponseSchema,
} from "../src/api/gen/ttrpc/testing/echo_pb.js";
import { TtrpcClient, TtrpcServer } from "../src/ttrpc/index.js";

type Impl = "ttrpc" | "grpc";
type Call = (req: EchoRequest) => Promise<EchoResponse>;

const GRPC_PATH = "/ttrpc.testing.Echo/Echo";
const encodeReq = (m: EchoRequest): Buffer => Buffer.from(toBinary(EchoRequestSchema, m));
const decodeReq = (b: Buffer): EchoRequest => fromBinary(EchoRequestSchema, b);
const encodeRes = (m: EchoResponse): Buffer => Buffer.from(toBinary(EchoResponseSchema, m));
const decodeRes = (b: Buffer): EchoResponse => fromBinary(EchoResponseSchema, b);

/** The same work for both servers: the request arrives decoded, the answer echoes text and blob. */
function answer(req: EchoRequest): EchoResponse {
  return create(EchoResponseSchema, { text: req.text, blob: req.blob });
}

async function serve(impl: Impl, path: string): Promise<void> {
  if (impl === "ttrpc") {
    const server = new TtrpcServer();
    server.register(Echo, { echo: async (req) => answer(req) });
    await server.listen(path);
  } else {
    const server = new grpc.Server();
    server.addService(
      {
        Echo: {
          path: GRPC_PATH,
          requestStream: false,
          responseStream: false,
          requestSerialize: encodeReq,
          requestDeserialize: decodeReq,
          responseSerialize: encodeRes,
          responseDeserialize: decodeRes,
        },
      },
      {
        Echo: (call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) =>
          cb(null, answer(call.request)),
      },
    );
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${path}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  process.stdout.write("ready\n");
}

async function startServer(impl: Impl, path: string): Promise<ChildProcess> {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--serve", impl, path], {
    stdio: ["ignore", "pipe", "inherit"],
    env,
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`${impl} server exited (${code})`)));
  });
  return child;
}

async function connect(impl: Impl, path: string): Promise<{ call: Call; close(): void }> {
  if (impl === "ttrpc") {
    const client = await TtrpcClient.connect(path);
    const echo = client.service(Echo);
    return { call: (req) => echo.echo(req), close: () => client.close() };
  }
  const client = new grpc.Client(`unix:${path}`, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())),
  );
  const call: Call = (req) =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(GRPC_PATH, encodeReq, decodeRes, req, (err, res) => {
        if (err) reject(err);
        else if (res === undefined) reject(new Error("no response"));
        else resolve(res);
      });
    });
  return { call, close: () => client.close() };
}

interface Result {
  impl: Impl;
  concurrency: number;
  calls: number;
  seconds: number;
  p50: number;
  p90: number;
  p99: number;
}

/** `concurrency` workers call back to back for `seconds`; each call's latency is kept. */
async function load(
  call: Call,
  req: EchoRequest,
  concurrency: number,
  seconds: number,
): Promise<Omit<Result, "impl">> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      const res = await call(req);
      latencies.push(performance.now() - t);
      if (res.blob.length !== req.blob.length) throw new Error("wrong answer");
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return {
    concurrency,
    calls: latencies.length,
    seconds: elapsed,
    p50: pct(0.5),
    p90: pct(0.9),
    p99: pct(0.99),
  };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const seconds = Number(arg("--seconds", "3"));
  const levels = arg("--concurrency", "1,32").split(",").map(Number);
  const req = create(EchoRequestSchema, { text: "benchmark", blob: new Uint8Array(256).fill(0x5a) });
  const dir = mkdtempSync(join(tmpdir(), "tsshim-bench-"));
  const results: Result[] = [];
  try {
    for (const concurrency of levels) {
      for (const impl of ["ttrpc", "grpc"] as const) {
        const path = join(dir, `${impl}-${concurrency}.sock`);
        const server = await startServer(impl, path);
        const client = await connect(impl, path);
        try {
          await load(client.call, req, concurrency, Math.min(1, seconds / 3)); // warm-up (JIT, buffers)
          results.push({ impl, ...(await load(client.call, req, concurrency, seconds)) });
        } finally {
          client.close();
          server.kill("SIGKILL");
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const us = (ms: number): string => `${Math.round(ms * 1000)} µs`;
  const lines = [
    `Unary echo, 256-byte blob, unix socket, server in a child process, ${seconds} s per row (node ${process.version}).`,
    "",
    "| concurrency | impl | calls/s | p50 | p90 | p99 |",
    "| ---: | --- | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.concurrency} | ${r.impl} | ${Math.round(r.calls / r.seconds)} | ${us(r.p50)} | ${us(r.p90)} | ${us(r.p99)} |`,
    );
  }
  lines.push("");
  for (const c of levels) {
    const t = results.find((r) => r.impl === "ttrpc" && r.concurrency === c);
    const g = results.find((r) => r.impl === "grpc" && r.concurrency === c);
    if (t && g) {
      const ratio = t.calls / t.seconds / (g.calls / g.seconds);
      lines.push(`concurrency ${c}: ttrpc / grpc-js = **${ratio.toFixed(2)}×** calls/s`);
    }
  }
  console.log(lines.join("\n"));
}

if (process.argv[2] === "--serve") {
  await serve(process.argv[3] as Impl, process.argv[4]);
} else {
  await main();
}
