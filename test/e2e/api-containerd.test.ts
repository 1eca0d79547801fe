// The generated API types and the typeurl helpers against a real containerd 1.6:
// gRPC calls with our messages, Anys packed our way decoded by containerd (and
// containerd's Anys decoded by unpackAny). The tasks run on the reference runtime
// (io.containerd.runc.v2), so this checks our types, not our shim.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskExitSchema, TaskOOMSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import { OptionsSchema } from "../../src/api/gen/containerd/runc/v1/options_pb.js";
import type { Envelope } from "../../src/api/gen/containerd/services/events/v1/events_pb.js";
import { Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import { MetricsSchema as CgroupsV1MetricsSchema } from "../../src/api/gen/io/containerd/cgroups/v1/metrics_pb.js";
import { MetricsSchema as CgroupsV2MetricsSchema } from "../../src/api/gen/io/containerd/cgroups/v2/metrics_pb.js";
import { apiRegistry } from "../../src/api/registry.js";
import {
  packAny,
  packJsonAny,
  specTypeUrls,
  unpackAny,
  unpackAnyAs,
  unpackJsonAny,
} from "../../src/api/typeurl.js";
import type { Containerd } from "../helpers/containerd.js";
import { closeFileContainerd, openFileContainerd } from "../helpers/file-containerd.js";
import type { ContainerdClient, ServerStream } from "../helpers/grpc.js";
import { assertNoLeaks, type LeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let api: ContainerdClient;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  ({ cd, api, image, snapshot } = await openFileContainerd());
});

after(() => closeFileContainerd(api, cd));

/** Collects envelopes from a subscription until `done` says stop (or the timeout hits). */
async function collect(
  stream: ServerStream<Envelope>,
  done: (seen: Envelope[]) => boolean,
  timeoutMs = 10_000,
): Promise<Envelope[]> {
  const seen: Envelope[] = [];
  const timer = setTimeout(() => stream.cancel(), timeoutMs);
  try {
    for await (const env of stream) {
      seen.push(env);
      if (done(seen)) break;
    }
  } finally {
    clearTimeout(timer);
    stream.cancel();
  }
  return seen;
}

test("Version answers containerd 1.6", async () => {
  const v = await api.version.version({}, { timeoutMs: 5000 });
  assert.match(v.version, /^1\.6\./);
});

test("an event published with a bare-name Any comes back through Subscribe and decodes", async () => {
  const topic = "/tasks/oom";
  const stream = api.events.subscribe({ filters: [`topic=="${topic}"`] });
  // Subscribe is registered once the first response headers arrive; give it a moment.
  await new Promise((r) => setTimeout(r, 300));
  const oom = create(TaskOOMSchema, { containerId: "api-oom-probe" });
  await api.events.publish({ topic, event: packAny(TaskOOMSchema, oom) }, { timeoutMs: 5000 });
  const [env] = await collect(stream, (s) => s.length >= 1);
  assert.ok(env, "no event received");
  assert.equal(env.topic, topic);
  assert.equal(env.namespace, cd.namespace);
  assert.equal(env.event?.typeUrl, "containerd.events.TaskOOM");
  assert.equal(unpackAnyAs(env.event!, TaskOOMSchema).containerId, "api-oom-probe");
});

test("a container record with a JSON spec Any and runc Options round-trips through Containers", async () => {
  const spec = { ociVersion: "1.0.2", process: { args: ["true"], cwd: "/" }, root: { path: "rootfs" } };
  const id = "api-container-record";
  const created = await api.containers.create(
    {
      container: {
        id,
        labels: { "tsshim.test": "api" },
        image,
        runtime: {
          name: "io.containerd.runc.v2",
          options: packAny(OptionsSchema, create(OptionsSchema, { binaryName: "crun", root: "/tmp/x" })),
        },
        spec: packJsonAny(specTypeUrls.spec, spec),
        snapshotter: "overlayfs",
      },
    },
    { timeoutMs: 5000 },
  );
  assert.equal(created.container?.id, id);
  try {
    const got = (await api.containers.get({ id }, { timeoutMs: 5000 })).container!;
    assert.equal(got.image, image);
    assert.equal(got.runtime?.options?.typeUrl, "containerd.runc.v1.Options");
    const opts = unpackAnyAs(got.runtime!.options!, OptionsSchema);
    assert.equal(opts.binaryName, "crun");
    assert.equal(opts.root, "/tmp/x");
    assert.deepEqual(unpackJsonAny(got.spec!, specTypeUrls.spec), spec);
    assert.ok((got.createdAt?.seconds ?? 0n) > 0n);

    const listed = await api.containers.list({ filters: ['labels."tsshim.test"==api'] }, { timeoutMs: 5000 });
    assert.deepEqual(
      listed.containers.map((c) => c.id),
      [id],
    );
  } finally {
    await api.containers.delete({ id }, { timeoutMs: 5000 });
  }
  await assert.rejects(api.containers.get({ id }, { timeoutMs: 5000 }), /not found/);
});

test("Tasks: Get, ListPids, Exec with a JSON Process Any, Wait, Metrics, Kill and TaskExit events", async () => {
  const id = "api-task";
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("runc"), image, id, "sleep", "600"]);
  assert.equal(run.code, 0, run.stderr);
  const events = api.events.subscribe({ filters: [`topic=="/tasks/exit"`] });
  // cancel() makes the call emit "Cancelled on client"; nothing iterates it on a failure path.
  events.call.on("error", () => undefined);
  try {
    const got = (await api.tasks.get({ containerId: id }, { timeoutMs: 5000 })).process!;
    // containerd 1.6 fills only `id` (the container id for an init), not container_id
    assert.equal(got.id, id);
    assert.equal(got.status, Status.RUNNING);
    assert.ok(got.pid > 0);

    const pids = await api.tasks.listPids({ containerId: id }, { timeoutMs: 5000 });
    assert.deepEqual(
      pids.processes.map((p) => p.pid),
      [got.pid],
    );

    // An exec: containerd hands the JSON spec to the shim unchanged.
    const process = { args: ["sh", "-c", "exit 5"], cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 } };
    await api.tasks.exec(
      { containerId: id, execId: "e1", spec: packJsonAny(specTypeUrls.process, process) },
      { timeoutMs: 5000 },
    );
    const wait = api.tasks.wait({ containerId: id, execId: "e1" }, { timeoutMs: 10_000 });
    await api.tasks.start({ containerId: id, execId: "e1" }, { timeoutMs: 5000 });
    const waited = await wait;
    assert.equal(waited.exitStatus, 5);
    assert.ok((waited.exitedAt?.seconds ?? 0n) > 0n);
    const del = await api.tasks.deleteProcess({ containerId: id, execId: "e1" }, { timeoutMs: 5000 });
    assert.equal(del.exitStatus, 5);

    // Update takes LinuxResources as JSON.
    await api.tasks.update(
      { containerId: id, resources: packJsonAny(specTypeUrls.linuxResources, { pids: { limit: 64 } }) },
      { timeoutMs: 5000 },
    );

    // Stats come back as a bare-name Any of the cgroups Metrics message.
    const m = await api.tasks.metrics({ filters: [`id==${id}`] }, { timeoutMs: 5000 });
    assert.equal(m.metrics.length, 1);
    const data = m.metrics[0]!.data!;
    assert.match(data.typeUrl, /^io\.containerd\.cgroups\.v[12]\.Metrics$/);
    const stats = unpackAny(data, apiRegistry);
    assert.equal(stats.kind, "proto");
    if (data.typeUrl.endsWith("v1.Metrics")) {
      const v1 = unpackAnyAs(data, CgroupsV1MetricsSchema);
      assert.ok((v1.pids?.current ?? 0n) >= 1n);
      assert.equal(v1.pids?.limit, 64n, "the JSON LinuxResources update reached the cgroup");
      assert.ok((v1.memory?.usage?.usage ?? 0n) > 0n);
    } else {
      const v2 = unpackAnyAs(data, CgroupsV2MetricsSchema);
      assert.ok((v2.pids?.current ?? 0n) >= 1n);
      assert.equal(v2.pids?.limit, 64n);
    }

    await api.tasks.kill({ containerId: id, signal: 9 }, { timeoutMs: 5000 });
    const exit = await api.tasks.wait({ containerId: id }, { timeoutMs: 10_000 });
    assert.equal(exit.exitStatus, 137);

    const seen = await collect(events, (s) => s.some((e) => unpackAnyAs(e.event!, TaskExitSchema).id === id));
    const exits = seen.map((e) => {
      assert.equal(e.event?.typeUrl, "containerd.events.TaskExit");
      return unpackAnyAs(e.event!, TaskExitSchema);
    });
    const e1 = exits.find((x) => x.id === "e1");
    const init = exits.find((x) => x.id === id);
    assert.equal(e1?.exitStatus, 5);
    assert.equal(init?.containerId, id);
    assert.equal(init?.exitStatus, 137);
    assert.equal(init?.pid, got.pid);
  } finally {
    events.cancel();
    await api.tasks.delete({ containerId: id }, { timeoutMs: 10_000 }).catch(() => undefined);
    await cd.ctr(["container", "rm", id]);
  }
  await assertNoLeaks(snapshot);
});
