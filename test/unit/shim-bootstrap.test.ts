import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { OptionsSchema } from "../../src/api/gen/containerd/runc/v1/options_pb.js";
import {
  BootstrapParamsSchema,
  BootstrapResultSchema,
} from "../../src/api/gen/containerd/runtime/bootstrap/v1/bootstrap_pb.js";
import { formatStartOutput, parseStartInput } from "../../src/shim/bootstrap.js";

const addr = "unix:///run/containerd/s/abc";

test("containerd 1.6: empty stdin or runtime options → the plain address", () => {
  assert.equal(parseStartInput(new Uint8Array(), "c1", "default").kind, "legacy");
  const opts = toBinary(
    OptionsSchema,
    create(OptionsSchema, { binaryName: "/usr/bin/crun", systemdCgroup: true }),
  );
  const input = parseStartInput(opts, "c1", "default");
  assert.equal(input.kind, "legacy");
  assert.equal(Buffer.from(formatStartOutput(addr, input, undefined)).toString(), addr);
  assert.equal(Buffer.from(formatStartOutput(addr, input, "2")).toString(), addr);
});

test("MAX_SHIM_VERSION=3 → bootstrap JSON version 3", () => {
  const out = JSON.parse(Buffer.from(formatStartOutput(addr, { kind: "legacy" }, "3")).toString());
  assert.deepEqual(out, { version: 3, address: addr, protocol: "ttrpc" });
});

test("BootstrapParams on stdin → BootstrapResult protobuf on stdout", () => {
  const params = create(BootstrapParamsSchema, {
    instanceId: "c1",
    namespace: "k8s.io",
    containerdTtrpcAddress: "unix:///run/containerd/containerd.sock.ttrpc",
    socketDir: "/run/c/s",
  });
  const input = parseStartInput(toBinary(BootstrapParamsSchema, params), "c1", "k8s.io");
  assert.equal(input.kind, "bootstrap");
  assert.equal(input.kind === "bootstrap" && input.params.socketDir, "/run/c/s");
  const result = fromBinary(BootstrapResultSchema, formatStartOutput(addr, input, "2"));
  assert.equal(result.version, 3);
  assert.equal(result.address, addr);
  assert.equal(result.protocol, "ttrpc");
});

test("BootstrapParams for another id are not taken as bootstrap", () => {
  const params = create(BootstrapParamsSchema, { instanceId: "other", namespace: "k8s.io" });
  assert.equal(parseStartInput(toBinary(BootstrapParamsSchema, params), "c1", "k8s.io").kind, "legacy");
});
