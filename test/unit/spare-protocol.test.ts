// The launcher ↔ spare wire format (native/launcher/launcher.h) and the
// spare socket's name, which the C launcher computes the same way.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fnv1a64, spareSocketPath } from "../../src/shim/spare-path.js";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  SpareProtocolError,
} from "../../src/shim/spare-protocol.js";

test("FNV-1a 64: the published test vectors", () => {
  assert.equal(fnv1a64(""), "cbf29ce484222325");
  assert.equal(fnv1a64("a"), "af63dc4c8601ec8c");
  assert.equal(fnv1a64("foobar"), "85944171f73967e8");
});

test("the spare socket lives in the socket dir, named by containerd's address", () => {
  assert.equal(
    spareSocketPath("/run/containerd/containerd.sock"),
    `/run/containerd/s/tsshim-spare-${fnv1a64("/run/containerd/containerd.sock")}`,
  );
  assert.equal(spareSocketPath("/a.sock", "/tmp/s"), `/tmp/s/tsshim-spare-${fnv1a64("/a.sock")}`);
});

test("a request survives encoding: argv, environment, cwd, stdin bytes, parent pid", () => {
  const req = {
    argv: ["containerd-shim-tsshim-v2", "-namespace", "default", "-id", "c1", "start"],
    env: { TTRPC_ADDRESS: "/run/containerd/containerd.sock.ttrpc", EMPTY: "", EQ: "a=b" },
    cwd: "/run/containerd/io.containerd.runtime.v2.task/default/c1",
    stdin: new Uint8Array([0, 1, 2, 255]),
    parentPid: 4242,
  };
  assert.deepEqual(decodeRequest(encodeRequest(req)), req);
});

test("broken requests are named precisely", () => {
  const ok = encodeRequest({
    argv: ["x", "start"],
    env: {},
    cwd: "/b",
    stdin: new Uint8Array(),
    parentPid: 1,
  });
  assert.throws(() => decodeRequest(ok.subarray(0, 3)), /truncated record header at byte 0/);
  assert.throws(() => decodeRequest(ok.subarray(0, 5)), /record 'A' at byte 0 claims 1 bytes, 0 left/);
  assert.throws(() => decodeRequest(Buffer.from([0x51, 0, 0, 0, 0])), /unknown record tag "Q"/);
  assert.throws(() => decodeRequest(Buffer.from([0x43, 2, 0, 0, 0, 0x2f, 0x62])), /no argv/);
  assert.throws(
    () =>
      decodeRequest(
        encodeRequest({ argv: ["x"], env: {}, cwd: "rel", stdin: new Uint8Array(), parentPid: 1 }),
      ),
    /no absolute cwd/,
  );
  const badPid = Buffer.concat([
    encodeRequest({ argv: ["x"], env: {}, cwd: "/b", stdin: new Uint8Array(), parentPid: 1 }),
    Buffer.from([0x50, 2, 0, 0, 0, 0x2d, 0x31]),
  ]);
  assert.throws(
    () => decodeRequest(badPid),
    (e: unknown) => e instanceof SpareProtocolError && /bad parent pid/.test(e.message),
  );
});

test("an answer carries status, the adopted flag and the output bytes", () => {
  const reply = {
    status: 0,
    adopted: true,
    output: new Uint8Array(Buffer.from("unix:///run/containerd/s/abc")),
  };
  assert.deepEqual(decodeReply(encodeReply(reply)), reply);
  const failed = { status: 1, adopted: false, output: new Uint8Array(Buffer.from("boom\n")) };
  assert.deepEqual(decodeReply(encodeReply(failed)), failed);
  assert.throws(() => decodeReply(encodeReply(reply).subarray(0, 8)), /answer claims 28 bytes, has 2/);
});
