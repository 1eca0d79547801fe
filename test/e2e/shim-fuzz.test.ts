// A ttrpc fuzzer against a live tsshim daemon started by containerd: random
// frames, truncated headers, absurd lengths, unknown services and methods,
// garbage protobuf in every Task method. The shim must never crash, must
// answer every decodable request with a status, and must keep serving valid
// calls on other connections — containerd still drives the container after.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import {
  ConnectRequestSchema,
  StateRequestSchema,
  Task,
} from "../../src/api/gen/containerd/task/v2/shim_pb.js";
import { RequestSchema } from "../../src/api/gen/ttrpc/ttrpc_pb.js";
import { TtrpcClient } from "../../src/ttrpc/client.js";
import { encodeFrame } from "../../src/ttrpc/frame.js";
import { Code, TtrpcError } from "../../src/ttrpc/status.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let snapshot: LeakSnapshot;
let socketPath: string;
const ID = "fuzzed";

before(async () => {
  cd = await startContainerd();
  const image = await importBusyboxImage(cd);
  snapshot = takeLeakSnapshot(cd);
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, ID, "sleep", "3600"]);
  assert.equal(run.code, 0, run.stderr);
  const address = readFileSync(
    join(cd.state, "io.containerd.runtime.v2.task", cd.namespace, ID, "address"),
    "utf8",
  );
  socketPath = address.replace(/^unix:\/\//, "");
});

after(async () => {
  if (existsSync(cd.dir)) await cd.stop();
});

/** Writes raw bytes on a fresh connection and collects what comes back until the shim closes or goes quiet. */
function blast(chunks: readonly Uint8Array[], quietMs = 150): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const sock = connect({ path: socketPath });
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(got));
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    };
    sock.on("data", (d: Buffer) => {
      got.push(d);
      arm();
    });
    sock.on("error", finish);
    sock.on("close", finish);
    sock.on("connect", () => {
      for (const c of chunks) sock.write(c);
      arm();
    });
  });
}

async function shimServes(): Promise<void> {
  const client = await TtrpcClient.connect(socketPath);
  try {
    const c = await client
      .service(Task)
      .connect(create(ConnectRequestSchema, { id: ID }), { timeoutMs: 5_000 });
    assert.ok(c.shimPid > 0 && c.taskPid > 0, "Connect answers with the shim and task pids");
  } finally {
    client.close();
  }
}

const request = (service: string, method: string, payload: Uint8Array): Uint8Array =>
  toBinary(RequestSchema, create(RequestSchema, { service, method, payload }));

const methods = Object.values(Task.method).map((m) => m.name);

test("random bytes, truncated headers and oversized lengths never take the shim down", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        // a header announcing a huge body, then a little of it
        fc
          .tuple(fc.integer({ min: 4 << 20, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }))
          .map(([len, id]) => {
            const h = Buffer.alloc(14);
            h.writeUInt32BE(len, 0);
            h.writeUInt32BE(id, 4);
            h[8] = 1;
            return new Uint8Array(h);
          }),
        // a valid header cut anywhere
        fc
          .integer({ min: 1, max: 9 })
          .map((n) => new Uint8Array(encodeFrame(1, 1, 0, new Uint8Array(20)).subarray(0, n))),
      ),
      async (bytes) => {
        await blast([bytes], 60);
      },
    ),
    { numRuns: 150 },
  );
  await shimServes();
});

test("every Task method with garbage protobuf answers a status, never a crash", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...methods),
      fc.uint8Array({ maxLength: 256 }),
      async (method, payload) => {
        const frame = encodeFrame(1, 1, 0, request("containerd.task.v2.Task", method, payload));
        const reply = await blast([frame]);
        // A response frame (type 2) for stream 1 comes back unless the request itself was undecodable.
        if (reply.length >= 10) {
          assert.equal(reply.readUInt32BE(4), 1, "response on the request's stream");
          assert.equal(reply[8], 2, "a response frame");
        }
      },
    ),
    { numRuns: 300 },
  );
  await shimServes();
});

test("unknown services and methods answer Unimplemented on a connection that keeps working", async () => {
  const client = await TtrpcClient.connect(socketPath);
  try {
    for (const [svc, m] of [
      ["containerd.task.v2.Task", "NoSuchMethod"],
      ["no.such.Service", "State"],
      ["", ""],
    ] as const) {
      await assert.rejects(
        client.call(svc, m, new Uint8Array(), { timeoutMs: 5_000 }),
        (e: unknown) => e instanceof TtrpcError && e.code === Code.Unimplemented,
      );
    }
    const st = await client.service(Task).state(create(StateRequestSchema, { id: ID }), { timeoutMs: 5_000 });
    assert.equal(st.id, ID);
    await assert.rejects(
      client.service(Task).state(create(StateRequestSchema, { id: "nope" }), { timeoutMs: 5_000 }),
      (e: unknown) => e instanceof TtrpcError && e.code === Code.NotFound && /not found/.test(e.message),
    );
  } finally {
    client.close();
  }
});

test("after the fuzzing containerd still drives the container and cleans up completely", async () => {
  const exec = await cd.ctr(["task", "exec", "--exec-id", "after-fuzz", ID, "echo", "still-alive"]);
  assert.equal(exec.stdout, "still-alive\n");
  assert.equal((await cd.ctr(["task", "kill", "-s", "SIGKILL", ID])).code, 0);
  assert.equal((await cd.ctr(["task", "rm", "-f", ID])).code, 0);
  assert.equal((await cd.ctr(["container", "rm", ID])).code, 0);
  await assertNoLeaks(snapshot);
});
