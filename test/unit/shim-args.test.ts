import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addressToPath, groupingId, socketAddress, socketPath } from "../../src/shim/address.js";
import { ArgsError, parseShimArgs } from "../../src/shim/args.js";

describe("shim command line", () => {
  test("parses what containerd 1.6 passes to start", () => {
    const a = parseShimArgs([
      "-namespace",
      "default",
      "-address",
      "/run/containerd/containerd.sock",
      "-publish-binary",
      "/usr/bin/containerd",
      "-id",
      "c1",
      "-debug",
      "start",
    ]);
    assert.equal(a.namespace, "default");
    assert.equal(a.address, "/run/containerd/containerd.sock");
    assert.equal(a.publishBinary, "/usr/bin/containerd");
    assert.equal(a.id, "c1");
    assert.equal(a.debug, true);
    assert.equal(a.action, "start");
  });

  test("accepts -flag=value, --flag and the delete verb with -bundle", () => {
    const a = parseShimArgs(["--namespace=k8s.io", "-id=x", "-bundle", "/b", "delete"]);
    assert.deepEqual(
      [a.namespace, a.id, a.bundle, a.action, a.debug],
      ["k8s.io", "x", "/b", "delete", false],
    );
  });

  test("no verb means the daemon", () => {
    assert.equal(parseShimArgs(["-id", "x"]).action, "");
  });

  test("unknown flags and missing values are errors like Go's flag package", () => {
    assert.throws(
      () => parseShimArgs(["-nope", "start"]),
      new ArgsError("flag provided but not defined: -nope"),
    );
    assert.throws(() => parseShimArgs(["-id"]), new ArgsError("flag needs an argument: -id"));
  });
});

describe("shim socket address", () => {
  test("hashes containerd address, namespace and group like containerd's shims", () => {
    // sha256("/run/containerd/containerd.sock/default/c1")
    const p = socketPath("/run/containerd/s", "/run/containerd/containerd.sock", "default", "c1");
    assert.equal(p, "/run/containerd/s/d25aa4ef11a84e954e74a5bcff06557d0b6ea8d0c00243896f29826694bbd888");
    assert.equal(socketAddress(p), `unix://${p}`);
    assert.equal(addressToPath(socketAddress(p)), p);
  });

  test("a pod's containers share the sandbox's shim; a named group wins", () => {
    assert.equal(groupingId("c1", undefined), "c1");
    assert.equal(groupingId("c1", { "io.kubernetes.cri.sandbox-id": "pod1" }), "pod1");
    assert.equal(
      groupingId("c1", { "io.tsshim.group": "batch", "io.kubernetes.cri.sandbox-id": "pod1" }),
      "group:batch",
    );
  });

  test("refuses a socket path longer than sun_path allows", () => {
    assert.throws(() => socketPath("/x".repeat(30), "a", "b", "c"), /longer than 106 bytes/);
  });
});
