import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fstatSync, lstatSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { EchoRequestSchema, EchoResponseSchema } from "../../src/api/gen/ttrpc/testing/echo_pb.js";
import { StringListSchema } from "../../src/api/gen/ttrpc/ttrpc_pb.js";
import {
  type CallContext,
  encodeFrame,
  Flag,
  FrameDecoder,
  MESSAGE_LENGTH_MAX,
  MessageType,
  rawMethod,
  TtrpcClient,
  TtrpcServer,
} from "../../src/ttrpc/index.js";
import {
  Code,
  Echo,
  echoImpl,
  echoPayload,
  echoText,
  RawConn,
  requestFrame,
  startPair,
  TtrpcError,
} from "./ttrpc-echo.js";

async function rejectsWith(p: Promise<unknown>, code: Code, message?: string | RegExp): Promise<TtrpcError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TtrpcError, `expected a TtrpcError, got ${String(err)}`);
    assert.equal(err.codeName, Code[code], `${err.message}`);
    if (typeof message === "string") assert.equal(err.message, message);
    else if (message !== undefined) assert.match(err.message, message);
    return err;
  }
  assert.fail("expected the call to fail");
}

test("unary call carries payload, metadata and deadline to the handler and back", async () => {
  const p = await startPair();
  try {
    const res = await p.echo.echo(
      { text: "hello", blob: new Uint8Array([0, 1, 255]) },
      { metadata: { "X-Trace": ["a", "b"], other: "c" }, timeoutMs: 2000 },
    );
    assert.equal(res.text, "hello");
    assert.deepEqual([...res.blob], [0, 1, 255]);
    assert.deepEqual(res.metadata, ["x-trace=a", "x-trace=b", "other=c"]);
  } finally {
    await p.cleanup();
  }
});

test("1,000 concurrent unary calls on one connection all answer correctly", async () => {
  const p = await startPair();
  try {
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        p.echo.echo({ text: `call-${i}`, blob: new Uint8Array([i & 255]) }),
      ),
    );
    for (let i = 0; i < 1000; i++) {
      assert.equal(results[i].text, `call-${i}`);
      assert.equal(results[i].blob[0], i & 255);
    }
    assert.equal(p.client.pending, 0);
    assert.equal(p.server.connectionCount, 1);
  } finally {
    await p.cleanup();
  }
});

test("error status round trip: every code, message and Any details reach the client", async () => {
  const p = await startPair();
  try {
    for (let code = 1; code <= 16; code++) {
      const err = await rejectsWith(
        p.echo.echo({ text: `failure ${code}`, failCode: code }),
        code,
        `failure ${code}`,
      );
      assert.equal(err.details.length, 1);
      const detail = anyUnpack(err.details[0], StringListSchema);
      assert.deepEqual(detail?.list, [`failure ${code}`, "detail"]);
    }
  } finally {
    await p.cleanup();
  }
});

test("handler exceptions that are not TtrpcErrors become statuses, never crashes", async () => {
  const server = new TtrpcServer();
  server.registerMethods("svc", [
    rawMethod("Plain", "unary", () => {
      throw new Error("plain failure");
    }),
    rawMethod("Missing", "unary", async () => {
      const e: NodeJS.ErrnoException = new Error("ENOENT: no such file");
      e.code = "ENOENT";
      throw e;
    }),
    rawMethod("NotAnError", "unary", async () => {
      throw "a string";
    }),
    rawMethod("Rejected", "unary", () => Promise.reject(new RangeError("bad range"))),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "tsshim-ttrpc-"));
  const path = join(dir, "s.sock");
  await server.listen(path);
  const client = await TtrpcClient.connect(path);
  try {
    const none = new Uint8Array(0);
    await rejectsWith(client.call("svc", "Plain", none), Code.Unknown, "plain failure");
    await rejectsWith(client.call("svc", "Missing", none), Code.NotFound, "ENOENT: no such file");
    await rejectsWith(client.call("svc", "NotAnError", none), Code.Unknown, "a string");
    await rejectsWith(client.call("svc", "Rejected", none), Code.Unknown, "bad range");
    assert.equal(server.connectionCount, 1);
  } finally {
    client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("undecodable request payload answers Internal; unknown service and method answer Unimplemented", async () => {
  const p = await startPair();
  try {
    await rejectsWith(
      p.client.call("ttrpc.testing.Echo", "Echo", new Uint8Array([0x0a, 0x05, 0x61])),
      Code.Internal,
      /^ttrpc: error unmarshalling payload/,
    );
    await rejectsWith(
      p.client.call("no.such.Service", "Echo", new Uint8Array(0)),
      Code.Unimplemented,
      "service no.such.Service",
    );
    await rejectsWith(
      p.client.call("ttrpc.testing.Echo", "Nope", new Uint8Array(0)),
      Code.Unimplemented,
      "method Nope",
    );
    // the connection is still good
    assert.equal((await p.echo.echo({ text: "still here" })).text, "still here");
  } finally {
    await p.cleanup();
  }
});

test("a service registered under an extra name serves the same implementation", async () => {
  const p = await startPair();
  try {
    p.server.register(Echo, echoImpl, { name: "ttrpc.testing.v2.Echo" });
    const v2 = p.client.service(Echo, { name: "ttrpc.testing.v2.Echo" });
    assert.equal((await v2.echo({ text: "via v2" })).text, "via v2");
    assert.throws(() => p.server.register(Echo, echoImpl), /duplicate service ttrpc.testing.Echo/);
  } finally {
    await p.cleanup();
  }
});

test("server enforces timeout_nano: DeadlineExceeded answered on time and the handler's signal aborts", async () => {
  let seen: { aborted: boolean; reason: unknown } | null = null;
  let release: () => void = () => {};
  const handlerDone = new Promise<void>((r) => {
    release = r;
  });
  const server = new TtrpcServer();
  server.registerMethods("svc", [
    rawMethod("Hang", "unary", async (_req: unknown, ctx: CallContext) => {
      assert.ok(ctx.deadline !== undefined && ctx.deadline > Date.now());
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
      seen = { aborted: ctx.signal.aborted, reason: ctx.signal.reason };
      release();
      return new Uint8Array(0);
    }),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "tsshim-ttrpc-"));
  const path = join(dir, "s.sock");
  await server.listen(path);
  // A raw connection: no client-side timer, only the server's deadline is at work.
  const raw = await RawConn.connect(path);
  try {
    const t0 = Date.now();
    raw.write(requestFrame(1, { service: "svc", method: "Hang", timeoutNano: 100_000_000n }));
    const st = await raw.nextStatus();
    const elapsed = Date.now() - t0;
    assert.equal(st.streamId, 1);
    assert.equal(st.code, Code.DeadlineExceeded);
    assert.equal(st.message, "context deadline exceeded");
    assert.ok(elapsed >= 95 && elapsed < 1000, `answered after ${elapsed} ms`);
    await handlerDone;
    assert.ok(seen !== null);
    const s = seen as { aborted: boolean; reason: unknown };
    assert.equal(s.aborted, true);
    assert.ok(s.reason instanceof TtrpcError && s.reason.code === Code.DeadlineExceeded);
    // The handler's late answer is not sent: the next frame belongs to the next call.
    raw.write(requestFrame(3, { service: "svc", method: "Nope" }));
    const next = await raw.nextStatus();
    assert.equal(next.streamId, 3);
    assert.equal(next.code, Code.Unimplemented);
  } finally {
    raw.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("client deadline: DeadlineExceeded locally, the late answer is dropped, the connection goes on", async () => {
  const p = await startPair();
  try {
    const t0 = Date.now();
    await rejectsWith(p.echo.echo({ text: "slow", delayMs: 3000 }, { timeoutMs: 50 }), Code.DeadlineExceeded);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 45 && elapsed < 2500, `failed after ${elapsed} ms`);
    assert.equal(p.client.pending, 0);
    assert.equal((await p.echo.echo({ text: "next" })).text, "next");
  } finally {
    await p.cleanup();
  }
});

test("cancellation: an aborted signal fails the call with Canceled; a closed connection aborts handlers", async () => {
  const p = await startPair();
  let serverSignal: AbortSignal | null = null;
  let enter: () => void = () => {};
  const entered = new Promise<void>((r) => {
    enter = r;
  });
  p.server.registerMethods("svc", [
    rawMethod("Wait", "unary", async (_req: unknown, ctx: CallContext) => {
      serverSignal = ctx.signal;
      enter();
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
      return new Uint8Array(0);
    }),
  ]);
  try {
    const ac = new AbortController();
    const call = p.echo.echo({ text: "x", delayMs: 5000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await rejectsWith(call, Code.Canceled);
    await rejectsWith(p.echo.echo({ text: "x" }, { signal: AbortSignal.abort() }), Code.Canceled);

    const pending = p.client.call("svc", "Wait", new Uint8Array(0));
    await entered;
    p.client.close();
    await rejectsWith(pending, Code.Canceled, "ttrpc: client closed");
    for (let i = 0; i < 100 && !(serverSignal as AbortSignal | null)?.aborted; i++) await sleep(5);
    const sig = serverSignal as AbortSignal | null;
    assert.equal(sig?.aborted, true);
    assert.ok(sig?.reason instanceof TtrpcError && sig.reason.code === Code.Canceled);
    await rejectsWith(p.echo.echo({ text: "after close" }), Code.Canceled);
  } finally {
    await p.cleanup();
  }
});

test("pending calls fail with Unavailable when the connection drops", async () => {
  const p = await startPair();
  try {
    let closedWith: TtrpcError | null = null;
    const client = new TtrpcClient(p.path, {
      onClose: (e) => {
        closedWith = e;
      },
    });
    const echo = client.service(Echo);
    const calls = [echo.echo({ text: "a", delayMs: 5000 }), echo.echo({ text: "b", delayMs: 5000 })].map(
      (c) => rejectsWith(c, Code.Unavailable, /^ttrpc: closed/),
    );
    const stream = echo.serverStream({ text: "s", count: 1000, delayMs: 50 });
    const streamDone = rejectsWith(
      (async () => {
        for await (const _ of stream) {
          /* drain */
        }
      })(),
      Code.Unavailable,
    );
    await sleep(50);
    await p.server.close();
    await Promise.all([...calls, streamDone]);
    assert.equal((closedWith as TtrpcError | null)?.code, Code.Unavailable);
    await rejectsWith(echo.echo({ text: "later" }), Code.Unavailable);
    const refused = new TtrpcClient(join(p.dir, "nothing-here.sock"));
    await rejectsWith(refused.call("s", "m", new Uint8Array(0)), Code.Unavailable, /ENOENT/);
  } finally {
    await p.cleanup();
  }
});

test("server stream: messages in order, then the end; an error after some messages reaches the client", async () => {
  const p = await startPair();
  try {
    const got: number[] = [];
    for await (const m of p.echo.serverStream({ text: "s", count: 50 })) {
      assert.equal(m.text, "s");
      got.push(m.index);
    }
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => i),
    );
    const zero = p.echo.serverStream({ text: "none", count: 0 });
    assert.equal(await zero.recv(), undefined);

    const failing = p.echo.serverStream({ text: "broken", count: 3, failCode: Code.DataLoss });
    const before: number[] = [];
    await rejectsWith(
      (async () => {
        for await (const m of failing) before.push(m.index);
      })(),
      Code.DataLoss,
      "broken",
    );
    assert.deepEqual(before, [0, 1, 2]);
    assert.equal(p.client.pending, 0);
  } finally {
    await p.cleanup();
  }
});

test("client stream: many messages, one answer; a handler error fails closeAndRecv", async () => {
  const p = await startPair();
  try {
    const cs = p.echo.clientStream({ metadata: { k: "v" } });
    for (let i = 0; i < 100; i++) await cs.send({ text: `${i}` });
    const res = await cs.closeAndRecv();
    assert.equal(res.index, 100);
    assert.equal(res.text, Array.from({ length: 100 }, (_, i) => `${i}`).join(","));
    assert.deepEqual(res.metadata, ["k=v"]);

    const empty = p.echo.clientStream();
    assert.equal((await empty.closeAndRecv()).index, 0);

    const bad = p.echo.clientStream();
    await bad.send({ text: "ok" });
    await bad.send({ text: "refused", failCode: Code.PermissionDenied });
    await rejectsWith(bad.closeAndRecv(), Code.PermissionDenied, "refused");
  } finally {
    await p.cleanup();
  }
});

test("bidirectional stream: interleaved send and receive, then closeSend ends it", async () => {
  const p = await startPair();
  try {
    const bidi = p.echo.bidi();
    for (let i = 0; i < 20; i++) {
      await bidi.send({ text: `m${i}` });
      const r = await bidi.recv();
      assert.equal(r?.text, `M${i}`);
      assert.equal(r?.index, i);
    }
    bidi.closeSend();
    assert.equal(await bidi.recv(), undefined);
    await assert.rejects(bidi.send({ text: "late" }), TtrpcError);

    // many streams at once on the same connection
    const streams = Array.from({ length: 50 }, () => p.echo.bidi());
    await Promise.all(streams.map((s, i) => s.send({ text: `s${i}` })));
    const firsts = await Promise.all(streams.map((s) => s.recv()));
    firsts.forEach((r, i) => {
      assert.equal(r?.text, `S${i}`);
    });
    for (const s of streams) s.closeSend();
    for (const s of streams) assert.equal(await s.recv(), undefined);
    assert.equal(p.client.pending, 0);
  } finally {
    await p.cleanup();
  }
});

test("stream deadlines and cancel: DeadlineExceeded for a slow stream; cancel() ends iteration locally", async () => {
  const p = await startPair();
  try {
    const slow = p.echo.serverStream({ text: "s", count: 100, delayMs: 100 }, { timeoutMs: 150 });
    const seen: number[] = [];
    await rejectsWith(
      (async () => {
        for await (const m of slow) seen.push(m.index);
      })(),
      Code.DeadlineExceeded,
    );
    assert.ok(seen.length < 5, `saw ${seen.length}`);
    const s = p.echo.serverStream({ text: "s", count: 1000, delayMs: 5 });
    let n = 0;
    for await (const _ of s) {
      if (++n === 3) break; // leaving the loop cancels the stream locally
    }
    assert.equal(n, 3);
    assert.equal(p.client.pending, 0);
    assert.equal((await p.echo.echo({ text: "ok" })).text, "ok");
  } finally {
    await p.cleanup();
  }
});

test("graceful shutdown: stops accepting, finishes in-flight calls, then closes", async () => {
  const p = await startPair();
  try {
    const slow = p.echo.echo({ text: "in flight", delayMs: 300 });
    const stream = p.echo.serverStream({ text: "st", count: 5, delayMs: 40 });
    await sleep(30);
    const t0 = Date.now();
    const shut = p.server.shutdown();
    // The listener is gone at once: a new connection is refused.
    const late = new TtrpcClient(p.path);
    await rejectsWith(late.call("x", "y", new Uint8Array(0)), Code.Unavailable);
    const res = await slow;
    assert.equal(res.text, "in flight");
    const got: number[] = [];
    for await (const m of stream) got.push(m.index);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    await shut;
    assert.ok(Date.now() - t0 >= 200, "shutdown waited for the call");
    assert.equal(p.server.connectionCount, 0);
    await rejectsWith(p.echo.echo({ text: "after" }), Code.Unavailable);
  } finally {
    await p.cleanup();
  }
});

test("shutdown with a timeout closes what is still running", async () => {
  const p = await startPair();
  try {
    const stuck = rejectsWith(p.echo.echo({ text: "stuck", delayMs: 10_000 }), Code.Unavailable);
    await sleep(20);
    const t0 = Date.now();
    await p.server.shutdown({ timeoutMs: 100 });
    assert.ok(Date.now() - t0 < 2000);
    await stuck;
  } finally {
    await p.cleanup();
  }
});

test("peer credentials and authorize: handlers see the peer; a refused peer is disconnected", async () => {
  const seenFds: number[] = [];
  let refuse = false;
  const p = await startPair({
    peerCredentials: (fd) => {
      seenFds.push(fd);
      assert.ok(fstatSync(fd).isSocket(), "the fd handed over is the accepted socket");
      return { pid: 4242, uid: 7, gid: 8 };
    },
    authorize: (peer) => !refuse && peer.credentials?.uid === 7,
  });
  try {
    p.server.registerMethods("peer", [
      rawMethod("Who", "unary", (_req: unknown, ctx: CallContext) =>
        new TextEncoder().encode(JSON.stringify({ fd: ctx.peer.fd, cred: ctx.peer.credentials })),
      ),
    ]);
    const out = JSON.parse(new TextDecoder().decode(await p.client.call("peer", "Who", new Uint8Array(0))));
    assert.deepEqual(out.cred, { pid: 4242, uid: 7, gid: 8 });
    assert.equal(out.fd, seenFds[0]);
    refuse = true;
    const other = new TtrpcClient(p.path);
    await rejectsWith(other.call("peer", "Who", new Uint8Array(0)), Code.Unavailable);
  } finally {
    await p.cleanup();
  }
});

test("oversized frames: ResourceExhausted to that stream, the connection keeps serving", async () => {
  const p = await startPair();
  const raw = await RawConn.connect(p.path);
  try {
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MESSAGE_LENGTH_MAX + 10, 0);
    header.writeUInt32BE(1, 4);
    header[8] = MessageType.Request;
    raw.write(header);
    raw.write(Buffer.alloc(MESSAGE_LENGTH_MAX + 10, 0xab));
    const st = await raw.nextStatus();
    assert.equal(st.streamId, 1);
    assert.equal(st.code, Code.ResourceExhausted);
    assert.equal(
      st.message,
      `message length ${MESSAGE_LENGTH_MAX + 10} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
    );
    raw.write(
      requestFrame(3, {
        service: "ttrpc.testing.Echo",
        method: "Echo",
        payload: echoPayload({ text: "after" }),
      }),
    );
    const ok = await raw.nextStatus();
    assert.equal(ok.streamId, 3);
    assert.equal(ok.code, Code.OK);
    assert.equal(echoText(ok.payload), "after");

    // The client refuses to send one, and the server refuses to answer with one.
    await rejectsWith(p.echo.echo({ blob: new Uint8Array(MESSAGE_LENGTH_MAX + 1) }), Code.ResourceExhausted);
    p.server.registerMethods("big", [
      rawMethod("Reply", "unary", () => new Uint8Array(MESSAGE_LENGTH_MAX + 1)),
    ]);
    await rejectsWith(p.client.call("big", "Reply", new Uint8Array(0)), Code.ResourceExhausted);
    assert.equal(
      (await p.echo.echo({ blob: new Uint8Array(MESSAGE_LENGTH_MAX - 64) })).blob.length,
      MESSAGE_LENGTH_MAX - 64,
    );
  } finally {
    raw.close();
    await p.cleanup();
  }
});

test("protocol errors are answered per stream, as containerd/ttrpc does, and the connection goes on", async () => {
  const p = await startPair();
  const raw = await RawConn.connect(p.path);
  const echoReq = (id: number, text: string) =>
    requestFrame(id, { service: "ttrpc.testing.Echo", method: "Echo", payload: echoPayload({ text }) });
  try {
    raw.write(echoReq(2, "even"));
    assert.deepEqual(await raw.nextStatus(), {
      streamId: 2,
      code: Code.InvalidArgument,
      message: "StreamID must be odd for client initiated streams",
      payload: new Uint8Array(0),
    });
    raw.write(echoReq(5, "five"));
    assert.equal(echoText((await raw.nextStatus()).payload), "five");
    raw.write(echoReq(3, "reused"));
    const reused = await raw.nextStatus();
    assert.equal(reused.code, Code.InvalidArgument);
    assert.equal(reused.message, "StreamID cannot be re-used and must increment");
    raw.write(Buffer.from([0, 0, 0, 3, 0, 0, 0, 7, MessageType.Request, 0, 0xff, 0xff, 0xff]));
    const garbled = await raw.nextStatus();
    assert.equal(garbled.streamId, 7);
    assert.equal(garbled.code, Code.InvalidArgument);
    assert.match(garbled.message, /^unmarshal request error/);
    raw.write(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, MessageType.Data, 0, 0x00]));
    const orphan = await raw.nextStatus();
    assert.equal(orphan.code, Code.InvalidArgument);
    assert.equal(orphan.message, "StreamID is no longer active");
    // Unknown message types are ignored for forward compatibility.
    raw.write(Buffer.from([0, 0, 0, 2, 0, 0, 0, 11, 0x7f, 0, 1, 2]));
    // A unary request with data following it on the same stream is a protocol error for that stream.
    raw.write(echoReq(13, "last"));
    assert.equal(echoText((await raw.nextStatus()).payload), "last");
    assert.equal(raw.closed, false);
    assert.equal((await p.echo.echo({ text: "other connection" })).text, "other connection");
  } finally {
    raw.close();
    await p.cleanup();
  }
});

test("wire shape of a server stream: data frames, then remote-closed|no-data", async () => {
  const p = await startPair();
  const raw = await RawConn.connect(p.path);
  try {
    raw.write(
      requestFrame(
        1,
        {
          service: "ttrpc.testing.Echo",
          method: "ServerStream",
          payload: toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "w", count: 2 })),
        },
        Flag.RemoteClosed,
      ),
    );
    const frames = [await raw.next(), await raw.next(), await raw.next()];
    assert.deepEqual(
      frames.map((f) => [f?.streamId, f?.type, f?.flags]),
      [
        [1, MessageType.Data, 0],
        [1, MessageType.Data, 0],
        [1, MessageType.Data, Flag.RemoteClosed | Flag.NoData],
      ],
    );
    assert.equal(fromBinary(EchoResponseSchema, frames[1]?.data ?? new Uint8Array()).index, 1);
    assert.equal(frames[2]?.data.length, 0);
    // A client stream: request remote-open, data frames, then remote-closed|no-data; the answer is a Response.
    raw.write(requestFrame(3, { service: "ttrpc.testing.Echo", method: "ClientStream" }, Flag.RemoteOpen));
    const dataFrame = (flags: number, text?: string) => {
      const body = text === undefined ? new Uint8Array(0) : echoPayload({ text });
      const h = Buffer.alloc(10);
      h.writeUInt32BE(body.length, 0);
      h.writeUInt32BE(3, 4);
      h[8] = MessageType.Data;
      h[9] = flags;
      return Buffer.concat([h, body]);
    };
    raw.write(
      Buffer.concat([dataFrame(0, "a"), dataFrame(0, "b"), dataFrame(Flag.RemoteClosed | Flag.NoData)]),
    );
    const answer = await raw.nextStatus();
    assert.equal(answer.streamId, 3);
    assert.equal(echoText(answer.payload), "a,b");
  } finally {
    raw.close();
    await p.cleanup();
  }
});

test("a stale socket file is replaced; a live one is not", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-ttrpc-"));
  const path = join(dir, "s.sock");
  const first = new TtrpcServer();
  await first.listen(path);
  const second = new TtrpcServer();
  try {
    await assert.rejects(second.listen(path), /EADDRINUSE|in use/);
    await first.close();
    // A crashed server leaves its socket file behind with nobody listening.
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    spawnSync(
      process.execPath,
      [
        "-e",
        "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
        path,
      ],
      { env },
    );
    assert.ok(lstatSync(path).isSocket(), "stale socket left behind");
    await assert.rejects(
      new Promise((resolve, reject) => createConnection(path).once("connect", resolve).once("error", reject)),
      /ECONNREFUSED/,
    );
    const third = new TtrpcServer().register(Echo, echoImpl);
    await third.listen(path);
    const c = await TtrpcClient.connect(path);
    assert.equal((await c.service(Echo).echo({ text: "fresh" })).text, "fresh");
    c.close();
    await third.close();
  } finally {
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("many connections at once, each with concurrent calls", async () => {
  const p = await startPair();
  const clients = await Promise.all(Array.from({ length: 20 }, () => TtrpcClient.connect(p.path)));
  try {
    const answers = await Promise.all(
      clients.flatMap((c, ci) =>
        Array.from({ length: 50 }, (_, i) =>
          c
            .service(Echo)
            .echo({ text: `${ci}/${i}` })
            .then((r) => r.text),
        ),
      ),
    );
    assert.deepEqual(
      answers,
      clients.flatMap((_, ci) => Array.from({ length: 50 }, (_, i) => `${ci}/${i}`)),
    );
    assert.equal(p.server.connectionCount, 21);
  } finally {
    for (const c of clients) c.close();
    await p.cleanup();
  }
});

test("the client numbers its streams with odd, increasing ids", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-ttrpc-"));
  const path = join(dir, "ids.sock");
  const ids: number[] = [];
  const fake = createServer((s) => {
    const decoder = new FrameDecoder({
      onFrame: (id, type) => {
        if (type === MessageType.Request) ids.push(id);
        s.write(encodeFrame(id, MessageType.Response, 0, new Uint8Array(0)));
      },
      onOversized: () => {},
    });
    s.on("data", (c: Buffer) => decoder.push(c));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => fake.listen(path, r));
  const client = await TtrpcClient.connect(path);
  try {
    for (let i = 0; i < 3; i++) await client.call("s", "m", new Uint8Array(0));
    await Promise.all([client.call("s", "m", new Uint8Array(0)), client.call("s", "m", new Uint8Array(0))]);
    assert.deepEqual(ids, [1, 3, 5, 7, 9]);
  } finally {
    client.close();
    await new Promise<void>((r) => fake.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an oversized frame from the server fails only its call; the client connection goes on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-ttrpc-"));
  const path = join(dir, "big.sock");
  const fake = createServer((s) => {
    const decoder = new FrameDecoder({
      onFrame: (id) => {
        if (id === 1) {
          // Announce a frame over the limit and send its body: the client must skip it whole.
          const h = Buffer.alloc(10);
          h.writeUInt32BE(MESSAGE_LENGTH_MAX + 1, 0);
          h.writeUInt32BE(id, 4);
          h[8] = MessageType.Response;
          s.write(h);
          s.write(Buffer.alloc(MESSAGE_LENGTH_MAX + 1, 0x12));
        } else {
          s.write(encodeFrame(id, MessageType.Response, 0, new Uint8Array([0x12, 0x02, 0x6f, 0x6b])));
        }
      },
      onOversized: () => {},
    });
    s.on("data", (c: Buffer) => decoder.push(c));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => fake.listen(path, r));
  const client = await TtrpcClient.connect(path);
  try {
    await rejectsWith(
      client.call("s", "m", new Uint8Array(0)),
      Code.ResourceExhausted,
      `message length ${MESSAGE_LENGTH_MAX + 1} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
    );
    const ok = await client.call("s", "m", new Uint8Array(0));
    assert.equal(new TextDecoder().decode(ok), "ok");
  } finally {
    client.close();
    await new Promise<void>((r) => fake.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the client sends its timeout as timeout_nano: the handler sees the deadline", async () => {
  const p = await startPair();
  try {
    p.server.registerMethods("deadline", [
      rawMethod("Left", "unary", (_req: unknown, ctx: CallContext) =>
        new TextEncoder().encode(String(ctx.deadline === undefined ? -1 : ctx.deadline - Date.now())),
      ),
    ]);
    const left = Number(
      new TextDecoder().decode(
        await p.client.call("deadline", "Left", new Uint8Array(0), { timeoutMs: 5000 }),
      ),
    );
    assert.ok(left > 4000 && left <= 5000, `deadline ${left} ms away`);
    const none = new TextDecoder().decode(await p.client.call("deadline", "Left", new Uint8Array(0)));
    assert.equal(none, "-1");
  } finally {
    await p.cleanup();
  }
});
