import assert from "node:assert/strict";
import { test } from "node:test";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { TaskExitSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import { OptionsSchema } from "../../src/api/gen/containerd/runc/v1/options_pb.js";
import { MetricsSchema } from "../../src/api/gen/io/containerd/cgroups/v2/metrics_pb.js";
import { apiRegistry } from "../../src/api/registry.js";
import {
  anyHolds,
  normalizeAny,
  packAny,
  packJsonAny,
  specTypeUrls,
  TypeUrlError,
  typeUrlToName,
  unpackAny,
  unpackAnyAs,
  unpackJsonAny,
} from "../../src/api/typeurl.js";

const exit = create(TaskExitSchema, { containerId: "c", id: "e", pid: 9, exitStatus: 137 });

test("packAny writes the bare full name, as containerd's typeurl does", () => {
  const a = packAny(TaskExitSchema, exit);
  assert.equal(a.typeUrl, "containerd.events.TaskExit");
  assert.deepEqual(a.value, toBinary(TaskExitSchema, exit));
  assert.equal(packAny(OptionsSchema, create(OptionsSchema)).typeUrl, "containerd.runc.v1.Options");
  assert.equal(packAny(MetricsSchema, create(MetricsSchema)).typeUrl, "io.containerd.cgroups.v2.Metrics");
});

test("unpackAny accepts bare and type.googleapis.com/ URLs", () => {
  for (const a of [packAny(TaskExitSchema, exit), anyPack(TaskExitSchema, exit)]) {
    const u = unpackAny(a, apiRegistry);
    assert.equal(u.kind, "proto");
    if (u.kind !== "proto") return;
    assert.equal(u.schema.typeName, "containerd.events.TaskExit");
    assert.ok(equals(TaskExitSchema, u.message as typeof exit, exit));
    assert.ok(anyHolds(a, TaskExitSchema));
    assert.ok(equals(TaskExitSchema, unpackAnyAs(a, TaskExitSchema), exit));
  }
  const prefixed = anyPack(TaskExitSchema, exit);
  assert.deepEqual(normalizeAny(prefixed), packAny(TaskExitSchema, exit));
  const json = packJsonAny(specTypeUrls.spec, {});
  assert.equal(normalizeAny(json), json);
  assert.equal(typeUrlToName("type.googleapis.com/containerd.runc.v1.Options"), "containerd.runc.v1.Options");
});

test("runc Options as ctr sends them round-trip through an Any", () => {
  // bytes of Options{binary_name:"crun", systemd_cgroup:true} under the bare URL
  const a = create(AnySchema, {
    typeUrl: "containerd.runc.v1.Options",
    value: new Uint8Array([0x32, 0x04, 0x63, 0x72, 0x75, 0x6e, 0x48, 0x01]),
  });
  const o = unpackAnyAs(a, OptionsSchema);
  assert.equal(o.binaryName, "crun");
  assert.equal(o.systemdCgroup, true);
});

test("OCI spec types arrive as JSON under types.containerd.io URLs", () => {
  assert.equal(specTypeUrls.process, "types.containerd.io/opencontainers/runtime-spec/1/Process");
  assert.equal(
    specTypeUrls.linuxResources,
    "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
  );
  // what containerd's Go client marshals for an exec (encoding/json of specs.Process)
  const json = '{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh","-c","echo hi"],"cwd":"/"}';
  const a = create(AnySchema, { typeUrl: specTypeUrls.process, value: new TextEncoder().encode(json) });
  const u = unpackAny(a, apiRegistry);
  assert.deepEqual(u, { kind: "json", typeUrl: specTypeUrls.process, value: JSON.parse(json) });
  assert.deepEqual(unpackJsonAny(a, specTypeUrls.process), JSON.parse(json));

  const res = { memory: { limit: 1048576 }, cpu: { shares: 512 } };
  const packed = packJsonAny(specTypeUrls.linuxResources, res);
  assert.equal(new TextDecoder().decode(packed.value), JSON.stringify(res));
  assert.deepEqual(unpackJsonAny(packed, specTypeUrls.linuxResources), res);
});

test("bad Anys are TypeUrlErrors naming the URL", () => {
  const cases = [
    create(AnySchema, { typeUrl: "" }),
    create(AnySchema, { typeUrl: "no.such.Message" }),
    create(AnySchema, { typeUrl: "type.googleapis.com/" }),
    create(AnySchema, { typeUrl: specTypeUrls.process, value: new Uint8Array([0x7b, 0xff]) }),
    create(AnySchema, { typeUrl: "containerd.events.TaskExit", value: new Uint8Array([0x0a, 0x05]) }),
  ];
  for (const a of cases) {
    assert.throws(
      () => unpackAny(a, apiRegistry),
      (e: unknown) => e instanceof TypeUrlError && e.typeUrl === a.typeUrl,
    );
  }
  assert.throws(
    () => unpackAnyAs(packAny(TaskExitSchema, exit), OptionsSchema),
    /expected containerd.runc.v1.Options/,
  );
  assert.throws(() => unpackJsonAny(packAny(TaskExitSchema, exit), specTypeUrls.process), TypeUrlError);
  assert.throws(() => packJsonAny(specTypeUrls.spec, undefined), TypeUrlError);
});
