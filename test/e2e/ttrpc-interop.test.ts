// Our ttrpc client against a real peer: containerd's own ttrpc socket. A
// /tasks/exit envelope sent with Events/Forward must come back, field by field,
// through containerd's gRPC events API — proof that frames, the Request
// envelope, metadata-free unary calls and the message types match the wire.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { TaskExitSchema, TaskOOMSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import {
  Events,
  ForwardRequestSchema,
} from "../../src/api/gen/containerd/services/events/ttrpc/v1/events_pb.js";
import { packAny, unpackAnyAs } from "../../src/api/typeurl.js";
import { TtrpcClient } from "../../src/ttrpc/client.js";
import { Code, TtrpcError } from "../../src/ttrpc/status.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { EventWatcher, READY_TOPIC } from "../helpers/events.js";
import { type ContainerdClient, containerdClient } from "../helpers/grpc.js";

let cd: Containerd;
let api: ContainerdClient;

before(async () => {
  cd = await startContainerd();
  api = containerdClient(cd.address, cd.namespace);
});

after(async () => {
  api?.close();
  if (cd !== undefined && existsSync(cd.dir)) await cd.stop();
});

test("Events/Forward of a /tasks/exit envelope over our ttrpc client is observed through containerd", async () => {
  // Returns once the subscription provably receives events (a busy machine delays it).
  const watcher = await EventWatcher.start(api, ['topic=="/tasks/exit"', `topic=="${READY_TOPIC}"`]);
  const exitedAt = new Date("2026-11-22T07:00:00.123Z");
  const exit = create(TaskExitSchema, {
    containerId: "interop-c1",
    id: "interop-e1",
    pid: 4242,
    exitStatus: 137,
    exitedAt: timestampFromDate(exitedAt),
  });
  const client = await TtrpcClient.connect(cd.ttrpcAddress);
  try {
    await client.service(Events).forward(
      create(ForwardRequestSchema, {
        envelope: {
          timestamp: timestampFromDate(new Date()),
          namespace: cd.namespace,
          topic: "/tasks/exit",
          event: packAny(TaskExitSchema, exit),
        },
      }),
      { timeoutMs: 5_000 },
    );
  } finally {
    client.close();
  }
  const env = await watcher.next((e) => e.topic === "/tasks/exit", 10_000).finally(() => watcher.close());
  assert.equal(env.topic, "/tasks/exit");
  assert.equal(env.namespace, cd.namespace);
  assert.equal(env.event?.typeUrl, "containerd.events.TaskExit");
  const got = unpackAnyAs(env.event!, TaskExitSchema);
  assert.equal(got.containerId, "interop-c1");
  assert.equal(got.id, "interop-e1");
  assert.equal(got.pid, 4242);
  assert.equal(got.exitStatus, 137);
  assert.equal(got.exitedAt?.seconds, BigInt(Math.floor(exitedAt.getTime() / 1000)));
  assert.equal(got.exitedAt?.nanos, 123_000_000);
});

test("containerd answers an unknown ttrpc method with Unimplemented, and the connection goes on", async () => {
  const client = await TtrpcClient.connect(cd.ttrpcAddress);
  try {
    await assert.rejects(
      client.call("containerd.services.events.ttrpc.v1.Events", "NoSuchMethod", new Uint8Array(), {
        timeoutMs: 5_000,
      }),
      (err: unknown) => err instanceof TtrpcError && err.code === Code.Unimplemented,
    );
    // The same connection still carries a valid call.
    await client.service(Events).forward(
      create(ForwardRequestSchema, {
        envelope: {
          timestamp: timestampFromDate(new Date()),
          namespace: cd.namespace,
          topic: "/tasks/oom",
          event: packAny(TaskOOMSchema, create(TaskOOMSchema, { containerId: "interop-c2" })),
        },
      }),
      { timeoutMs: 5_000 },
    );
    assert.equal(client.closed, false);
  } finally {
    client.close();
  }
});
