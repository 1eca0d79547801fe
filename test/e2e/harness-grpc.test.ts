// The gRPC helpers against the real containerd API: Version answers, and
// Events.Subscribe delivers the /tasks/start and /tasks/exit events of a
// `ctr run`, decoded field by field.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { TaskExitSchema, TaskStartSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import { unpackAnyAs } from "../../src/api/typeurl.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { EventWatcher } from "../helpers/events.js";
import { type ContainerdClient, containerdClient } from "../helpers/grpc.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, takeLeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let api: ContainerdClient;
let image: string;

before(async () => {
  cd = await startContainerd();
  image = await importBusyboxImage(cd);
  api = containerdClient(cd.address, cd.namespace);
});

after(async () => {
  api.close();
  await cd.stop();
});

test("Version answers with containerd's version", async () => {
  const v = await api.version.version({}, { timeoutMs: 5_000 });
  assert.match(v.version, /^1\.6\./);
  assert.ok(v.revision.length > 0);
});

test("Events.Subscribe receives /tasks/start and /tasks/exit of a ctr run", async () => {
  const snapshot = takeLeakSnapshot(cd);
  const watcher = await EventWatcher.start(api, [`namespace==${cd.namespace}`, 'topic~="/tasks/"']);
  try {
    const id = "evented";
    const started = Date.now();
    const r = await cd.ctr(["run", "--rm", ...cd.runtimeFlags("runc"), image, id, "sh", "-c", "exit 7"]);
    assert.equal(r.code, 7, r.stderr);

    const startEnv = await watcher.next((e) => e.topic === "/tasks/start");
    assert.equal(startEnv.namespace, cd.namespace);
    const start = unpackAnyAs(startEnv.event!, TaskStartSchema);
    assert.equal(start.containerId, id);
    assert.ok(start.pid > 0);

    const exitEnv = await watcher.next((e) => e.topic === "/tasks/exit");
    const exit = unpackAnyAs(exitEnv.event!, TaskExitSchema);
    assert.equal(exit.containerId, id);
    assert.equal(exit.id, id, "the init process's id is the container id");
    assert.equal(exit.pid, start.pid);
    assert.equal(exit.exitStatus, 7);
    const exitedMs = Number(exit.exitedAt!.seconds) * 1000 + exit.exitedAt!.nanos / 1e6;
    assert.ok(exitedMs >= started - 1000 && exitedMs <= Date.now() + 1000, "exited_at is now-ish");

    const topics = watcher.received.map((e) => e.topic);
    assert.ok(topics.indexOf("/tasks/start") < topics.indexOf("/tasks/exit"), topics.join(","));
    await watcher.next((e) => e.topic === "/tasks/delete");
  } finally {
    await watcher.close();
  }
  await assertNoLeaks(snapshot);
});

test("the typed client reaches the tasks and containers services in the instance namespace", async () => {
  const r = await cd.ctr(["run", "-d", ...cd.runtimeFlags("runc"), image, "listed", "sleep", "30"]);
  assert.equal(r.code, 0, r.stderr);
  try {
    const containers = await api.containers.list({});
    assert.deepEqual(
      containers.containers.map((c) => c.id),
      ["listed"],
    );
    assert.equal(containers.containers[0].runtime?.name, "io.containerd.runc.v2");
    const tasks = await api.tasks.list({});
    assert.equal(tasks.tasks.length, 1);
    assert.equal(tasks.tasks[0].id, "listed");
    const other = containerdClient(cd.address, "some-other-namespace");
    try {
      assert.deepEqual((await other.containers.list({})).containers, []);
    } finally {
      other.close();
    }
  } finally {
    await cd.ctr(["task", "rm", "-f", "listed"]);
    await cd.ctr(["containers", "rm", "listed"]);
  }
});

test("errors arrive as grpc statuses: NotFound, and DeadlineExceeded for an expired stream", async () => {
  await assert.rejects(api.containers.get({ id: "no-such-container" }), (err: unknown) => {
    assert.equal((err as { code?: number }).code, status.NOT_FOUND);
    return true;
  });
  const stream = api.events.subscribe({ filters: ['topic=="/never"'] }, { timeoutMs: 200 });
  await assert.rejects(
    (async () => {
      for await (const _ of stream) assert.fail("no event expected");
    })(),
    (err: unknown) => {
      // The client's own deadline gives DEADLINE_EXCEEDED; if containerd's
      // handler notices the expired context first it answers Unknown with Go's
      // "context deadline exceeded". Either way the status reaches the caller.
      const { code, details } = err as { code?: number; details?: string };
      assert.ok(
        code === status.DEADLINE_EXCEEDED ||
          (code === status.UNKNOWN && /deadline exceeded/.test(details ?? "")),
        `code ${code}: ${details}`,
      );
      return true;
    },
  );
});
