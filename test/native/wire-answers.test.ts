// Published answers on the native wire (native/wire_answers.c, src/shim/task-answers.ts):
// a unary request whose bytes match a published answer is answered by the addon
// without calling the handler; everything else reaches the ttrpc server intact —
// other payloads, withdrawn answers, pipelined and split frames, negative deadlines,
// unknown envelope fields, reused stream ids — and a connection not yet authorised
// gets nothing. Driven over a real unix socket with hand-built frames.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoResponseSchema } from "../../src/api/gen/ttrpc/testing/echo_pb.js";
import { nativeProc } from "../../src/oci/native-proc.js";
import { listenNativeWire } from "../../src/shim/native-wire.js";
import type { AnswerBoard } from "../../src/shim/task-answers.js";
import { type ServerOptions, TtrpcServer } from "../../src/ttrpc/index.js";
import { openFds } from "../helpers/proc.js";
import { Code, Echo, echoImpl, echoPayload, echoText, RawConn, requestFrame } from "../unit/ttrpc-echo.js";

const dir = mkdtempSync(join(tmpdir(), "tsshim-answers-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const SERVICE = Echo.typeName;
const asked = echoPayload({ text: "asked" });
const published = toBinary(EchoResponseSchema, create(EchoResponseSchema, { text: "published" }));

/** An Echo server on the native wire that counts the calls its handler sees. */
function serve(options: ServerOptions = {}): {
  path: string;
  server: TtrpcServer;
  board: AnswerBoard;
  calls: () => number;
} {
  const path = join(dir, `answers-${n++}.sock`);
  let calls = 0;
  const server = new TtrpcServer(options);
  server.register(Echo, {
    ...echoImpl,
    echo: (req, ctx) => {
      calls++;
      return echoImpl.echo!(req, ctx);
    },
  });
  const board = listenNativeWire(server, nativeProc().listenUnix(path, 16));
  return { path, server, board, calls: () => calls };
}

/** The next `count` answers, by stream id. */
async function answers(conn: RawConn, count: number): Promise<Map<number, { code: number; text: string }>> {
  const out = new Map<number, { code: number; text: string }>();
  for (let i = 0; i < count; i++) {
    const s = await conn.nextStatus();
    out.set(s.streamId, { code: s.code, text: s.code === 0 ? echoText(s.payload) : s.message });
  }
  return out;
}

/** One unary Echo call on `sid`: the answer's text, or its status. */
async function call(conn: RawConn, sid: number, payload = asked, method = "Echo"): Promise<string> {
  conn.write(requestFrame(sid, { service: SERVICE, method, payload }));
  const s = await conn.nextStatus();
  assert.equal(s.streamId, sid);
  return s.code === 0 ? echoText(s.payload) : `status ${s.code}`;
}

test("a published answer is given without the handler; other payloads and withdrawn answers reach it", async () => {
  const fds = openFds();
  const { path, server, board, calls } = serve();
  board.set("c1", SERVICE, "Echo", asked, published);
  board.set("c2", SERVICE, "Echo", echoPayload({ text: "other group" }), published);
  const conn = await RawConn.connect(path);
  assert.equal(await call(conn, 1), "published");
  assert.equal(calls(), 0, "answered without the handler");
  assert.equal(await call(conn, 3, echoPayload({ text: "new" })), "new");
  assert.equal(calls(), 1);
  // The same bytes on another method are not the same question.
  assert.equal(await call(conn, 5, asked, "Nope"), `status ${Code.Unimplemented}`);

  board.clear("c2");
  assert.equal(await call(conn, 7), "published", "c1's answer stays");
  board.clear("c1");
  assert.equal(await call(conn, 9), "asked", "withdrawn: the handler");
  assert.equal(calls(), 2);

  // Republished (replacing), then all withdrawn at once.
  board.set("c1", SERVICE, "Echo", asked, published);
  board.set(
    "c1",
    SERVICE,
    "Echo",
    asked,
    toBinary(EchoResponseSchema, create(EchoResponseSchema, { text: "v2" })),
  );
  assert.equal(await call(conn, 11), "v2");
  board.clear();
  assert.equal(await call(conn, 13), "asked");
  conn.close();
  await server.close();
  board.set("c1", SERVICE, "Echo", asked, published); // a closed wire's board does nothing
  for (let i = 0; i < 50 && openFds().size !== fds.size; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(openFds(), fds, "no fd left");
});

test("pipelined, split and unusual frames: each answered once, by the wire or by JS as JS would", async () => {
  const { path, server, board, calls } = serve();
  board.set("c1", SERVICE, "Echo", asked, published);
  const conn = await RawConn.connect(path);
  const ask = (sid: number, extra: { timeoutNano?: bigint } = {}) =>
    requestFrame(sid, { service: SERVICE, method: "Echo", payload: asked, ...extra });
  // Three requests in one write: the middle one is JS's.
  conn.write(
    Buffer.concat([
      ask(1),
      requestFrame(3, { service: SERVICE, method: "Echo", payload: echoPayload({ text: "js" }) }),
      ask(5),
    ]),
  );
  assert.deepEqual(
    await answers(conn, 3),
    new Map([
      [1, { code: 0, text: "published" }],
      [3, { code: 0, text: "js" }],
      [5, { code: 0, text: "published" }],
    ]),
  );
  assert.equal(calls(), 1);

  // A request written a byte at a time gets one answer (from JS: the wire answers whole frames only).
  for (const b of ask(7)) {
    conn.write(Buffer.from([b]));
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.deepEqual(await answers(conn, 1), new Map([[7, { code: 0, text: "asked" }]]));

  // A negative deadline is JS's DeadlineExceeded, as for any call (and nothing else came for 7).
  conn.write(ask(9, { timeoutNano: -1n }));
  const late = await conn.nextStatus();
  assert.deepEqual([late.streamId, late.code], [9, Code.DeadlineExceeded]);

  // An envelope field the wire does not know goes to JS, which skips it and answers.
  const before = calls();
  conn.write(
    requestFrame(11, { service: SERVICE, method: "Echo", payload: asked }, 0, { unknownField: true }),
  );
  assert.deepEqual(await answers(conn, 1), new Map([[11, { code: 0, text: "asked" }]]));
  assert.equal(calls(), before + 1);

  // A stream id that does not increase is refused (by JS), even for a published question.
  conn.write(ask(5));
  const reused = await conn.nextStatus();
  assert.equal(reused.code, Code.InvalidArgument);
  assert.match(reused.message, /StreamID cannot be re-used/);
  // An even (server-side) stream id likewise.
  conn.write(ask(14));
  assert.equal((await conn.nextStatus()).code, Code.InvalidArgument);
  conn.close();
  await server.close();
});

test("a connection is answered only once the server serves it: a refused peer gets nothing", async () => {
  let decide: (ok: boolean) => void = () => {};
  const verdict = new Promise<boolean>((resolve) => {
    decide = resolve;
  });
  const { path, server, board, calls } = serve({ authorize: () => verdict });
  board.set("c1", SERVICE, "Echo", asked, published);
  const conn = await RawConn.connect(path);
  conn.write(requestFrame(1, { service: SERVICE, method: "Echo", payload: asked }));
  await new Promise((r) => setTimeout(r, 100));
  decide(false);
  assert.equal(await conn.next(), null, "closed without an answer");
  assert.equal(calls(), 0);
  await server.close();
});
