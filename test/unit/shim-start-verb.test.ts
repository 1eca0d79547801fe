import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { OptionsSchema } from "../../src/api/gen/containerd/runc/v1/options_pb.js";
import { BootstrapParamsSchema } from "../../src/api/gen/containerd/runtime/bootstrap/v1/bootstrap_pb.js";
import { formatLegacyOutput, hostGrouping, mayBeBootstrap, shimGroup } from "../../src/shim/start.js";

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

test("host-wide grouping: env var over config file over the per-container default", () => {
  const noFile = (): string => {
    throw new Error("ENOENT");
  };
  assert.equal(hostGrouping({}, noFile), "container");
  assert.equal(hostGrouping({ TSSHIM_GROUPING: "namespace" }, noFile), "namespace");
  const files: Record<string, string> = {
    "/etc/tsshim/config.json": '{"grouping":"namespace"}',
    "/tmp/other.json": '{"grouping":"container"}',
  };
  const read = (p: string): string => {
    const c = files[p];
    if (c === undefined) throw new Error("ENOENT");
    return c;
  };
  assert.equal(hostGrouping({}, read), "namespace");
  assert.equal(hostGrouping({ TSSHIM_CONFIG: "/tmp/other.json" }, read), "container");
  assert.equal(hostGrouping({ TSSHIM_GROUPING: "container" }, read), "container");
  assert.throws(() => hostGrouping({ TSSHIM_GROUPING: "node" }, noFile), /unknown grouping mode/);
});

test("namespace mode: one shim per namespace, pods included; a named group still wins", () => {
  const pod = { "io.kubernetes.cri.sandbox-id": "pod1" };
  assert.equal(shimGroup("c1", "default", undefined, "container"), "c1");
  assert.equal(shimGroup("c1", "default", pod, "container"), "pod1");
  assert.equal(shimGroup("c1", "default", undefined, "namespace"), "namespace:default");
  assert.equal(shimGroup("c2", "default", pod, "namespace"), "namespace:default");
  assert.equal(shimGroup("c3", "k8s.io", undefined, "namespace"), "namespace:k8s.io");
  assert.equal(shimGroup("c4", "default", { "io.tsshim.group": "batch" }, "namespace"), "group:batch");
});
