// Hostile input: whatever bytes arrive, neither server nor client crashes, and the server keeps serving
// other connections (and the same one, wherever the framing is intact).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { EchoRequestSchema } from "../../src/api/gen/ttrpc/testing/echo_pb.js";
import {
  encodeFrame,
  Flag,
  MESSAGE_LENGTH_MAX,
  MessageType,
  TtrpcClient,
  TtrpcError,
} from "../../src/ttrpc/index.js";
import { Code, echoPayload, echoText, RawConn, requestFrame, startPair } from "./ttrpc-echo.js";

function chunks(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out.filter((c) => c.length > 0);
}

function waitClosed(raw: RawConn): Promise<void> {
  return new Promise((resolve) => {
    if (raw.socket.destroyed) resolve();
    else raw.socket.once("close", () => resolve());
  });
}

test("property: random garbage, truncated headers and oversized lengths never crash the server", async () => {
  const p = await startPair();
  let served = 0;
  try {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      // a truncated header
      fc.uint8Array({ minLength: 1, maxLength: 9 }),
      // an oversized length, with part of its body
      fc
        .tuple(
          fc.integer({ min: MESSAGE_LENGTH_MAX + 1, max: 0xffffffff }),
          fc.nat(),
          fc.uint8Array({ maxLength: 512 }),
        )
        .map(([len, id, body]) => {
          const h = Buffer.alloc(10);
          h.writeUInt32BE(len, 0);
          h.writeUInt32BE(id % 2 ** 32, 4);
          h[8] = MessageType.Request;
          return Buffer.concat([h, body]);
        }),
      // a valid frame followed by garbage
      fc
        .uint8Array({ maxLength: 256 })
        .map((tail) =>
          Buffer.concat([requestFrame(1, { service: "ttrpc.testing.Echo", method: "Echo" }), tail]),
        ),
    );
    await fc.assert(
      fc.asyncProperty(garbage, fc.array(fc.nat(), { maxLength: 8 }), async (bytes, cuts) => {
        const raw = await RawConn.connect(p.path);
        for (const c of chunks(bytes, cuts)) raw.write(c);
        await new Promise((r) => setImmediate(r));
        raw.close();
        await waitClosed(raw);
        // another connection is served all along
        const res = await p.echo.echo({ text: `alive ${served}` });
        assert.equal(res.text, `alive ${served}`);
        served++;
      }),
      { numRuns: 150 },
    );
    assert.equal(p.server.connectionCount, 1);
  } finally {
    await p.cleanup();
  }
});

test("property: well-framed but invalid frames are answered per stream and the same connection keeps serving", async () => {
  const p = await startPair();
  try {
    const badFrame = fc.oneof(
      fc.record({ kind: fc.constant("request" as const), body: fc.uint8Array({ maxLength: 200 }) }),
      fc.record({ kind: fc.constant("data" as const), body: fc.uint8Array({ maxLength: 200 }) }),
      fc.record({ kind: fc.constant("unknown" as const), body: fc.uint8Array({ maxLength: 50 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(badFrame, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (frames, cuts) => {
          const raw = await RawConn.connect(p.path);
          try {
            let id = 1;
            let expected = 0;
            const wire: Buffer[] = [];
            for (const f of frames) {
              if (f.kind === "request") {
                wire.push(encodeFrame(id, MessageType.Request, 0, f.body));
                id += 2;
                expected++;
              } else if (f.kind === "data") {
                // data for a stream that was never opened
                wire.push(encodeFrame(id + 1000, MessageType.Data, 0, f.body));
                expected++;
              } else {
                wire.push(encodeFrame(id, 0x40, 0, f.body));
              }
            }
            wire.push(
              requestFrame(id, {
                service: "ttrpc.testing.Echo",
                method: "Echo",
                payload: echoPayload({ text: "good" }),
              }),
            );
            for (const c of chunks(Buffer.concat(wire), cuts)) raw.write(c);
            for (let i = 0; i < expected; i++) {
              const st = await raw.nextStatus();
              assert.ok(
                st.code === Code.InvalidArgument || st.code === Code.Unimplemented,
                `unexpected status ${st.code} ${st.message}`,
              );
            }
            const last = await raw.nextStatus();
            assert.equal(last.streamId, id);
            assert.equal(last.code, Code.OK);
            assert.equal(echoText(last.payload), "good");
          } finally {
            raw.close();
            await waitClosed(raw);
          }
        },
      ),
      { numRuns: 100 },
    );
  } finally {
    await p.cleanup();
  }
});

test("property: undecodable messages inside an open client stream fail that call, not the server", async () => {
  const p = await startPair();
  // A client stream that only decodes what it receives (no delays or failures driven by the junk).
  p.server.registerMethods("robust", [
    {
      name: "Drain",
      kind: "client_streaming",
      decode: (b: Uint8Array) => fromBinary(EchoRequestSchema, b),
      encode: (v: unknown) => v as Uint8Array,
      handler: async (reqs: unknown) => {
        for await (const _ of reqs as AsyncIterable<unknown>) {
          /* decode only */
        }
        return new Uint8Array(0);
      },
    },
  ]);
  try {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 100 }), async (junk) => {
        const raw = await RawConn.connect(p.path);
        try {
          raw.write(requestFrame(1, { service: "robust", method: "Drain" }, Flag.RemoteOpen));
          raw.write(encodeFrame(1, MessageType.Data, 0, junk));
          raw.write(encodeFrame(1, MessageType.Data, Flag.RemoteClosed | Flag.NoData, new Uint8Array(0)));
          const st = await raw.nextStatus();
          assert.equal(st.streamId, 1);
          // Either the junk happens to decode as an EchoRequest (then the stream answers OK), or Internal.
          assert.ok(st.code === Code.OK || st.code === Code.Internal, `${st.code} ${st.message}`);
        } finally {
          raw.close();
          await waitClosed(raw);
        }
      }),
      { numRuns: 100 },
    );
    assert.equal((await p.echo.echo({ text: "fine" })).text, "fine");
  } finally {
    await p.cleanup();
  }
});

test("property: a client fed garbage by its server fails its calls with TtrpcErrors, never crashes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-ttrpc-"));
  const path = join(dir, "evil.sock");
  let reply: Uint8Array = new Uint8Array(0);
  const sockets = new Set<Socket>();
  const evil = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("data", () => {
      s.write(reply);
    });
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => evil.listen(path, r));
  try {
    const replyArb = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => encodeFrame(1, MessageType.Response, 0, b)),
      fc.uint8Array({ maxLength: 200 }).map((b) => encodeFrame(1, MessageType.Data, 0, b)),
    );
    await fc.assert(
      fc.asyncProperty(replyArb, async (bytes) => {
        reply = bytes;
        const client = await TtrpcClient.connect(path);
        try {
          const call = client.call("s", "m", new Uint8Array([1]), { timeoutMs: 30 });
          const out = await call.then(
            (v) => ({ ok: true as const, v }),
            (e: unknown) => ({ ok: false as const, e }),
          );
          if (!out.ok) assert.ok(out.e instanceof TtrpcError, String(out.e));
        } finally {
          client.close();
        }
      }),
      { numRuns: 100 },
    );
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => evil.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});
