import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { OptionsSchema } from "../../src/api/gen/containerd/runc/v1/options_pb.js";
import { BootstrapParamsSchema } from "../../src/api/gen/containerd/runtime/bootstrap/v1/bootstrap_pb.js";
import { formatLegacyOutput, mayBeBootstrap } from "../../src/shim/start.js";

test("the start verb loads protobuf only when stdin can be this shim's BootstrapParams", () => {
  assert.equal(mayBeBootstrap(new Uint8Array(), "c1", "default"), false);
  const opts = toBinary(OptionsSchema, create(OptionsSchema, { binaryName: "/usr/bin/crun" }));
  assert.equal(mayBeBootstrap(opts, "c1", "default"), false);
  const params = toBinary(
    BootstrapParamsSchema,
    create(BootstrapParamsSchema, { instanceId: "c1", namespace: "k8s.io" }),
  );
  assert.equal(mayBeBootstrap(params, "c1", "k8s.io"), true);
  assert.equal(mayBeBootstrap(params, "c2", "k8s.io"), false);
});

test("legacy output: the plain address, or version 3 JSON when MAX_SHIM_VERSION allows it", () => {
  const addr = "unix:///run/containerd/s/abc";
  assert.equal(Buffer.from(formatLegacyOutput(addr, undefined)).toString(), addr);
  assert.equal(Buffer.from(formatLegacyOutput(addr, "2")).toString(), addr);
  assert.deepEqual(JSON.parse(Buffer.from(formatLegacyOutput(addr, "3")).toString()), {
    version: 3,
    address: addr,
    protocol: "ttrpc",
  });
});
