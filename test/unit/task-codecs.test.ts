// The shim's hand-written codecs for Connect and State (src/shim/task-codecs.ts)
// against protobuf-es for the same values: identical bytes out, identical fields in,
// unknown fields skipped, bad input refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ConnectRequestSchema,
  ConnectResponseSchema,
  StateRequestSchema,
  StateResponseSchema,
} from "../../src/api/gen/containerd/task/v2/shim_pb.js";
import { Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import { registerTasks } from "../../src/shim/daemon.js";
import {
  decodeConnectRequest,
  decodeStateRequest,
  encodeConnectResponse,
  encodeStateResponse,
  TASK_CODECS,
} from "../../src/shim/task-codecs.js";
import { TtrpcServer } from "../../src/ttrpc/server.js";

const strings = [
  "",
  "c1",
  "a-much-longer-container-id-0123456789abcdef".repeat(4),
  "ünïcødé ✓",
  "x".repeat(200),
];
const numbers = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31 - 1, 2 ** 32 - 1];

/** A small deterministic generator: the same cases every run. */
function* rand(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    yield x;
  }
}

test("ConnectResponse: the same bytes as protobuf-es", () => {
  const r = rand(1);
  for (let i = 0; i < 300; i++) {
    const init = {
      shimPid: numbers[r.next().value % numbers.length]!,
      taskPid: numbers[r.next().value % numbers.length]!,
      version: strings[r.next().value % strings.length]!,
    };
    assert.deepEqual(
      Buffer.from(encodeConnectResponse(init)),
      Buffer.from(toBinary(ConnectResponseSchema, create(ConnectResponseSchema, init))),
      JSON.stringify(init),
    );
  }
  assert.equal(encodeConnectResponse({}).length, 0, "all defaults: empty");
});

test("StateResponse: the same bytes as protobuf-es, with and without exited_at", () => {
  const r = rand(2);
  const times = [
    undefined,
    timestampFromDate(new Date(0)),
    timestampFromDate(new Date("2026-11-22T15:00:00.123456Z")),
    { $typeName: "google.protobuf.Timestamp" as const, seconds: -62_135_596_800n, nanos: 999_999_999 },
  ];
  const statuses = [
    Status.UNKNOWN,
    Status.CREATED,
    Status.RUNNING,
    Status.STOPPED,
    Status.PAUSED,
    Status.PAUSING,
  ];
  for (let i = 0; i < 500; i++) {
    const pick = <T>(xs: readonly T[]): T => xs[r.next().value % xs.length]!;
    const init = {
      id: pick(strings),
      bundle: pick(strings),
      pid: pick(numbers),
      status: pick(statuses),
      stdin: pick(strings),
      stdout: pick(strings),
      stderr: pick(strings),
      terminal: r.next().value % 2 === 0,
      exitStatus: pick(numbers),
      exitedAt: pick(times),
      execId: pick(strings),
    };
    assert.deepEqual(
      Buffer.from(encodeStateResponse(init)),
      Buffer.from(toBinary(StateResponseSchema, create(StateResponseSchema, init))),
      `case ${i}`,
    );
  }
});

test("Connect and State requests decode to the fields protobuf-es writes; unknown fields are skipped", () => {
  for (const id of strings) {
    const c = decodeConnectRequest(toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { id })));
    assert.equal(c.id, id);
    assert.equal(c.$typeName, "containerd.task.v2.ConnectRequest");
    for (const execId of strings) {
      const s = decodeStateRequest(toBinary(StateRequestSchema, create(StateRequestSchema, { id, execId })));
      assert.deepEqual([s.id, s.execId], [id, execId]);
    }
  }
  // A newer containerd's extra fields (a varint 3, a string 15, a fixed64 4) are skipped.
  const extra = Buffer.concat([
    Buffer.from([0x18, 0x96, 0x01]),
    Buffer.from(toBinary(StateRequestSchema, create(StateRequestSchema, { id: "c1", execId: "e1" }))),
    Buffer.from([0x7a, 0x02, 0x68, 0x69, 0x21, 1, 2, 3, 4, 5, 6, 7, 8]),
  ]);
  assert.deepEqual((({ id, execId }) => ({ id, execId }))(decodeStateRequest(extra)), {
    id: "c1",
    execId: "e1",
  });
  // ConnectRequest's field 1 is the id; a repeated field keeps the last value, as protobuf does.
  assert.equal(decodeConnectRequest(Buffer.from([0x0a, 0x01, 0x61, 0x0a, 0x01, 0x62])).id, "b");
});

test("bad input is refused: truncated, overrunning, wrong wire type, invalid UTF-8", () => {
  const cases: Array<[string, number[]]> = [
    ["truncated varint", [0x0a, 0x80]],
    ["length past the end", [0x0a, 0x05, 0x61]],
    ["id as a varint", [0x08, 0x01]],
    ["invalid UTF-8", [0x0a, 0x02, 0xc3, 0x28]],
    ["field number 0", [0x02, 0x00]],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(() => decodeStateRequest(Buffer.from(bytes)), /./, what);
    assert.throws(() => decodeConnectRequest(Buffer.from(bytes)), /./, what);
  }
});

test("the daemon serves Connect and State through these codecs, under both service names", () => {
  const server = new TtrpcServer();
  registerTasks(server, {
    connect: () => ({ shimPid: 1, taskPid: 2, version: "2" }),
    state: () => ({ id: "c1" }),
  });
  for (const name of ["containerd.task.v2.Task", "containerd.task.v3.Task"]) {
    const methods = server.lookup(name);
    assert.equal(methods?.get("Connect")?.decode, decodeConnectRequest, `${name} Connect decode`);
    assert.equal(methods?.get("State")?.decode, decodeStateRequest, `${name} State decode`);
    const codec = (type: string) => TASK_CODECS.get(`containerd.task.v2.${type}`)?.encode;
    assert.equal(methods?.get("State")?.encode, codec("StateResponse"), `${name} State encode`);
    assert.equal(methods?.get("Connect")?.encode, codec("ConnectResponse"), `${name} Connect encode`);
  }
});
