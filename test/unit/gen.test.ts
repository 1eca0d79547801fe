import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { RequestSchema } from "../../src/api/gen/ttrpc/ttrpc_pb.js";

test("generated ttrpc Request round-trips through the binary codec", () => {
  const req = create(RequestSchema, {
    service: "svc",
    method: "M",
    payload: new Uint8Array([1, 2]),
    timeoutNano: 5n,
  });
  const back = fromBinary(RequestSchema, toBinary(RequestSchema, req));
  assert.equal(back.service, "svc");
  assert.equal(back.method, "M");
  assert.deepEqual([...back.payload], [1, 2]);
  assert.equal(back.timeoutNano, 5n);
});
