import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { StatusSchema } from "../../src/api/gen/google/rpc/status_pb.js";
import { RequestSchema, ResponseSchema, StringListSchema } from "../../src/api/gen/ttrpc/ttrpc_pb.js";
import {
  decodeRequest,
  decodeResponse,
  EnvelopeError,
  encodeRequestFrame,
  encodeResponseFrame,
} from "../../src/ttrpc/envelope.js";
import {
  encodeFrame,
  FrameDecoder,
  HEADER_LENGTH,
  MESSAGE_LENGTH_MAX,
  readHeader,
} from "../../src/ttrpc/frame.js";
import { Code, TtrpcError } from "../../src/ttrpc/status.js";

interface Frame {
  streamId: number;
  type: number;
  flags: number;
  data: Uint8Array;
}

type Event = { kind: "frame"; frame: Frame } | { kind: "oversized"; streamId: number; length: number };

function collect(maxLength?: number): { decoder: FrameDecoder; events: Event[] } {
  const events: Event[] = [];
  const decoder = new FrameDecoder(
    {
      onFrame: (streamId, type, flags, data) =>
        events.push({ kind: "frame", frame: { streamId, type, flags, data: new Uint8Array(data) } }),
      onOversized: (streamId, _type, _flags, length) => events.push({ kind: "oversized", streamId, length }),
    },
    maxLength,
  );
  return { decoder, events };
}

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

const frameArb = fc.record({
  streamId: fc.integer({ min: 0, max: 0xffffffff }),
  type: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 300 }),
});

test("header layout: big-endian length and stream id, then type and flags", () => {
  const f = encodeFrame(0x01020304, 3, 0x05, new Uint8Array([9, 8]));
  assert.deepEqual([...f.subarray(0, HEADER_LENGTH)], [0, 0, 0, 2, 1, 2, 3, 4, 3, 5]);
  assert.deepEqual(readHeader(f), { length: 2, streamId: 0x01020304, type: 3, flags: 5 });
  assert.deepEqual([...f.subarray(HEADER_LENGTH)], [9, 8]);
});

test("property: any sequence of frames survives any chunking", () => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (frames, cuts) => {
        const wire = Buffer.concat(frames.map((f) => encodeFrame(f.streamId, f.type, f.flags, f.data)));
        const { decoder, events } = collect();
        for (const c of chunk(wire, cuts)) decoder.push(c);
        assert.deepEqual(
          events,
          frames.map((frame) => ({ kind: "frame", frame: { ...frame } })),
        );
        assert.equal(decoder.buffered, 0);
      },
    ),
    { numRuns: 500 },
  );
});

test("one byte at a time still yields every frame", () => {
  const frames = [
    { streamId: 1, type: 1, flags: 0, data: new Uint8Array([1, 2, 3]) },
    { streamId: 3, type: 3, flags: 5, data: new Uint8Array(0) },
    { streamId: 5, type: 2, flags: 0, data: new Uint8Array(1000).fill(7) },
  ];
  const wire = Buffer.concat(frames.map((f) => encodeFrame(f.streamId, f.type, f.flags, f.data)));
  const { decoder, events } = collect();
  for (let i = 0; i < wire.length; i++) decoder.push(wire.subarray(i, i + 1));
  assert.deepEqual(
    events,
    frames.map((frame) => ({ kind: "frame", frame })),
  );
});

test("property: oversized frames are skipped whole and reported after their body; framing stays in sync", () => {
  const max = 64; // a small limit keeps the property fast; the logic is the same for 4 MiB
  const item = fc.oneof(
    frameArb.map((f) => ({ ...f, data: f.data.subarray(0, max) })),
    fc.record({
      streamId: fc.integer({ min: 0, max: 0xffffffff }),
      type: fc.integer({ min: 0, max: 255 }),
      flags: fc.constant(0),
      data: fc.uint8Array({ minLength: max + 1, maxLength: 400 }),
    }),
  );
  fc.assert(
    fc.property(fc.array(item, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
      const wire = Buffer.concat(frames.map((f) => encodeFrame(f.streamId, f.type, f.flags, f.data)));
      const { decoder, events } = collect(max);
      for (const c of chunk(wire, cuts)) decoder.push(c);
      const want: Event[] = frames.map((f) =>
        f.data.length > max
          ? { kind: "oversized", streamId: f.streamId, length: f.data.length }
          : { kind: "frame", frame: { ...f } },
      );
      assert.deepEqual(events, want);
    }),
    { numRuns: 300 },
  );
});

test("an oversized frame is reported only once its whole body has been discarded", () => {
  const { decoder, events } = collect();
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt32BE(MESSAGE_LENGTH_MAX + 1, 0);
  header.writeUInt32BE(7, 4);
  header[8] = 1;
  decoder.push(header);
  decoder.push(Buffer.alloc(MESSAGE_LENGTH_MAX));
  assert.equal(events.length, 0);
  decoder.push(Buffer.concat([Buffer.alloc(1), encodeFrame(9, 1, 0, new Uint8Array([42]))]));
  assert.deepEqual(events, [
    { kind: "oversized", streamId: 7, length: MESSAGE_LENGTH_MAX + 1 },
    { kind: "frame", frame: { streamId: 9, type: 1, flags: 0, data: new Uint8Array([42]) } },
  ]);
});

// --- envelope codec against the generated schemas -----------------------------------------

const text = fc.string({ unit: "binary", maxLength: 40 });
const requestArb = fc.record({
  service: text,
  method: text,
  payload: fc.uint8Array({ maxLength: 200 }),
  timeoutNano: fc.bigInt({ min: -(2n ** 53n) + 1n, max: 2n ** 53n - 1n }),
  metadata: fc.array(fc.record({ key: text, value: text }), { maxLength: 5 }),
});

test("property: our Request encoder agrees with the generated schema", () => {
  fc.assert(
    fc.property(requestArb, (r) => {
      const frame = encodeRequestFrame(
        1,
        0,
        r.service,
        r.method,
        r.payload,
        Number(r.timeoutNano),
        r.metadata.map((kv) => [kv.key, kv.value] as [string, string]),
        MESSAGE_LENGTH_MAX,
      );
      assert.ok(frame !== null);
      assert.equal(readHeader(frame).length, frame.length - HEADER_LENGTH);
      const back = fromBinary(RequestSchema, frame.subarray(HEADER_LENGTH));
      assert.equal(back.service, r.service);
      assert.equal(back.method, r.method);
      assert.deepEqual([...back.payload], [...r.payload]);
      assert.equal(back.timeoutNano, r.timeoutNano);
      assert.deepEqual(
        back.metadata.map((kv) => [kv.key, kv.value]),
        r.metadata.map((kv) => [kv.key, kv.value]),
      );
    }),
    { numRuns: 300 },
  );
});

test("property: our Request decoder agrees with the generated schema", () => {
  fc.assert(
    fc.property(requestArb, (r) => {
      const bytes = toBinary(RequestSchema, create(RequestSchema, r));
      const back = decodeRequest(bytes);
      assert.equal(back.service, r.service);
      assert.equal(back.method, r.method);
      assert.deepEqual([...back.payload], [...r.payload]);
      assert.equal(back.timeoutNano, Number(r.timeoutNano));
      assert.deepEqual(
        back.metadata,
        r.metadata.map((kv) => [kv.key, kv.value]),
      );
    }),
    { numRuns: 300 },
  );
});

test("property: Response frames carry status (with details) and payload as the generated schema reads them", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 16 }),
      text,
      fc.array(text, { maxLength: 3 }),
      fc.uint8Array({ maxLength: 200 }),
      (code, message, detailTexts, payload) => {
        const details = detailTexts.map((t) =>
          anyPack(StringListSchema, create(StringListSchema, { list: [t] })),
        );
        const status =
          code === 0 && message === "" && details.length === 0
            ? new Uint8Array(0)
            : toBinary(StatusSchema, new TtrpcError(code as Code, message, details).toStatus());
        const frame = encodeResponseFrame(3, status, payload);
        const back = fromBinary(ResponseSchema, frame.subarray(HEADER_LENGTH));
        assert.equal(back.status?.code ?? 0, code);
        assert.equal(back.status?.message ?? "", message);
        assert.deepEqual(
          back.status?.details.map((d) => d.typeUrl),
          details.map((d) => d.typeUrl),
        );
        assert.deepEqual([...back.payload], [...payload]);
        const mine = decodeResponse(frame.subarray(HEADER_LENGTH));
        assert.deepEqual([...mine.payload], [...payload]);
        assert.deepEqual([...mine.status], [...status]);
      },
    ),
    { numRuns: 200 },
  );
});

test("property: decoding random bytes either succeeds or throws EnvelopeError, nothing else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      for (const decode of [decodeRequest, decodeResponse]) {
        try {
          decode(bytes);
        } catch (err) {
          assert.ok(err instanceof EnvelopeError, String(err));
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test("invalid UTF-8 in a string field is rejected (as Go's proto3 decoder does)", () => {
  // field 1 (service), length 2, bytes 0xc3 0x28 (an invalid sequence)
  assert.throws(() => decodeRequest(new Uint8Array([0x0a, 2, 0xc3, 0x28])), EnvelopeError);
  assert.equal(decodeRequest(new Uint8Array([0x0a, 2, 0xc3, 0xa9])).service, "é");
});

test("TtrpcError converts to and from google.rpc.Status for every code", () => {
  for (let code = 0; code <= 16; code++) {
    const detail = anyPack(StringListSchema, create(StringListSchema, { list: ["x"] }));
    const err = new TtrpcError(code as Code, `m${code}`, [detail]);
    const back = TtrpcError.fromStatus(fromBinary(StatusSchema, toBinary(StatusSchema, err.toStatus())));
    assert.equal(back.code, code);
    assert.equal(back.message, `m${code}`);
    assert.equal(back.details[0].typeUrl, "type.googleapis.com/ttrpc.StringList");
    assert.equal(back.codeName, Code[code]);
  }
  assert.equal(Object.keys(Code).filter((k) => Number.isNaN(Number(k))).length, 17);
});
