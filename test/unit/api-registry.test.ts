import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { create, type DescMessage, equals, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import type { GenFile } from "@bufbuild/protobuf/codegenv2";
import fc from "fast-check";
import { TaskExitSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import { EnvelopeSchema } from "../../src/api/gen/containerd/services/events/ttrpc/v1/events_pb.js";
import {
  CreateTaskRequestSchema,
  StateResponseSchema,
} from "../../src/api/gen/containerd/task/v2/shim_pb.js";
import { Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import { apiFiles, apiRegistry } from "../../src/api/registry.js";
import { normalizeAny, packAny } from "../../src/api/typeurl.js";

const genDir = new URL("../../src/api/gen/", import.meta.url).pathname;

function generatedModules(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...generatedModules(p));
    else if (name.endsWith("_pb.js")) out.push(p);
  }
  return out;
}

function isGenFile(v: unknown): v is GenFile {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "file";
}

test("every generated message is in the registry (test-only protos excepted)", async () => {
  const modules = generatedModules(genDir).filter((p) => !relative(genDir, p).includes("/testing/"));
  assert.ok(modules.length >= 20, `found ${modules.length} generated modules`);
  const inList = new Set<unknown>(apiFiles);
  for (const path of modules) {
    const mod: Record<string, unknown> = await import(path);
    const files = Object.values(mod).filter(isGenFile);
    assert.equal(files.length, 1, path);
    const file = files[0]!;
    assert.ok(inList.has(file), `${relative(genDir, path)} is missing from apiFiles`);
    for (const m of file.messages) assert.equal(apiRegistry.getMessage(m.typeName), m);
    for (const s of file.services) assert.equal(apiRegistry.getService(s.typeName), s);
  }
  assert.ok(apiRegistry.getMessage("google.protobuf.Timestamp"));
  assert.ok(apiRegistry.getService("containerd.task.v2.Task"));
  assert.ok(apiRegistry.getService("containerd.task.v3.Task"));
  assert.ok(apiRegistry.getService("containerd.services.events.ttrpc.v1.Events"));
});

test("service method names are containerd's", () => {
  const task = apiRegistry.getService("containerd.task.v2.Task");
  assert.deepEqual(
    task?.methods.map((m) => m.name),
    [
      "State",
      "Create",
      "Start",
      "Delete",
      "Pids",
      "Pause",
      "Resume",
      "Checkpoint",
      "Kill",
      "Exec",
      "ResizePty",
      "CloseIO",
      "Update",
      "Wait",
      "Stats",
      "Connect",
      "Shutdown",
    ],
  );
  const v3 = apiRegistry.getService("containerd.task.v3.Task");
  assert.deepEqual(
    v3?.methods.map((m) => m.name),
    task?.methods.map((m) => m.name),
  );
  const subscribe = apiRegistry
    .getService("containerd.services.events.v1.Events")
    ?.methods.find((m) => m.name === "Subscribe");
  assert.equal(subscribe?.methodKind, "server_streaming");
  const cri = apiRegistry.getService("runtime.v1.RuntimeService")?.methods.map((m) => m.name) ?? [];
  for (const name of [
    "Version",
    "RunPodSandbox",
    "CreateContainer",
    "StartContainer",
    "ExecSync",
    "ContainerStatus",
  ]) {
    assert.ok(cri.includes(name), name);
  }
  const images = apiRegistry.getService("runtime.v1.ImageService")?.methods.map((m) => m.name) ?? [];
  assert.deepEqual(
    ["ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo"].filter(
      (n) => !images.includes(n),
    ),
    [],
  );
});

test("a Forward envelope with a packed event survives JSON through the registry", () => {
  const env = create(EnvelopeSchema, {
    timestamp: { seconds: 1700000000n, nanos: 5 },
    namespace: "default",
    topic: "/tasks/exit",
    event: packAny(TaskExitSchema, create(TaskExitSchema, { containerId: "c", pid: 3, exitStatus: 1 })),
  });
  const json = toJson(EnvelopeSchema, env, { registry: apiRegistry });
  assert.equal((json as { event: { "@type": string } }).event["@type"], "containerd.events.TaskExit");
  const back = fromJson(EnvelopeSchema, json, { registry: apiRegistry });
  // protobuf-es writes the googleapis prefix when parsing JSON; normalizeAny undoes it
  assert.equal(back.event?.typeUrl, "type.googleapis.com/containerd.events.TaskExit");
  back.event = normalizeAny(back.event!);
  assert.ok(equals(EnvelopeSchema, back, env));
});

function roundTrips<Desc extends DescMessage>(
  schema: Desc,
  arb: fc.Arbitrary<Parameters<typeof create<Desc>>[1]>,
): void {
  fc.assert(
    fc.property(arb, (init) => {
      const m = create(schema, init);
      assert.ok(equals(schema, fromBinary(schema, toBinary(schema, m)), m));
    }),
    { numRuns: 200 },
  );
}

const u32 = fc.nat({ max: 0xffffffff });

test("representative messages round-trip through the binary codec", () => {
  roundTrips(
    CreateTaskRequestSchema,
    fc.record({
      id: fc.string(),
      bundle: fc.string(),
      rootfs: fc.array(fc.record({ type: fc.string(), source: fc.string(), options: fc.array(fc.string()) })),
      terminal: fc.boolean(),
      stdout: fc.string(),
      options: fc.record({ typeUrl: fc.string(), value: fc.uint8Array() }),
    }),
  );
  roundTrips(
    StateResponseSchema,
    fc.record({
      id: fc.string(),
      pid: u32,
      status: fc.constantFrom(Status.UNKNOWN, Status.CREATED, Status.RUNNING, Status.STOPPED, Status.PAUSED),
      exitStatus: u32,
      exitedAt: fc.record({
        seconds: fc.bigInt({ min: 0n, max: 253402300799n }),
        nanos: fc.nat({ max: 999999999 }),
      }),
      execId: fc.string(),
    }),
  );
});
