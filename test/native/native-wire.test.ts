// The shim's native wire (native/napi_wire.c, src/shim/native-wire.ts): the ttrpc
// server's accept/read/write without net.Socket. Driven by the ordinary client over a
// real unix socket: answers, peer credentials, large answers that need the write
// queue, streams with backpressure, a client that leaves mid-call, refused peers, and
// a closed server that leaves no fd and accepts nothing.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { nativeProc } from "../../src/oci/native-proc.js";
import { listenNativeWire } from "../../src/shim/native-wire.js";
import { type Peer, type ServerOptions, TtrpcClient, TtrpcServer } from "../../src/ttrpc/index.js";
import { openFds } from "../helpers/proc.js";
import { Code, Echo, echoImpl, RawConn, type TtrpcError } from "../unit/ttrpc-echo.js";

const dir = mkdtempSync(join(tmpdir(), "tsshim-wire-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** An Echo server on the native wire; the peers it saw are recorded. */
function serve(options: ServerOptions = {}): { path: string; server: TtrpcServer; peers: Peer[] } {
  const path = join(dir, `wire-${n++}.sock`);
  const peers: Peer[] = [];
  const server = new TtrpcServer(options);
  server.register(Echo, {
    ...echoImpl,
    echo: (req, ctx) => {
      peers.push(ctx.peer);
      return echoImpl.echo!(req, ctx);
    },
  });
  listenNativeWire(server, nativeProc().listenUnix(path, 16));
  return { path, server, peers };
}

test("unary calls are answered with the caller's credentials; close leaves no fd and accepts nothing", async () => {
  const fds = openFds();
  const { path, server, peers } = serve();
  const client = await TtrpcClient.connect(path);
  const echo = client.service(Echo);
  const r = await echo.echo({ text: "hi" }, { metadata: { "containerd-namespace-ttrpc": "default" } });
  assert.equal(r.text, "hi");
  assert.deepEqual(r.metadata, ["containerd-namespace-ttrpc=default"]);
  assert.equal(peers[0]?.credentials?.pid, process.pid);
  assert.equal(peers[0]?.credentials?.uid, process.getuid?.());
  assert.ok((peers[0]?.fd ?? -1) > 2, "the accepted fd is reported");
  // 200 calls in flight on one connection, all answered.
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => echo.echo({ text: `m${i}` })));
  assert.deepEqual(
    many.map((m) => m.text),
    Array.from({ length: 200 }, (_, i) => `m${i}`),
  );
  // A failing handler's status crosses the wire.
  await assert.rejects(
    echo.echo({ text: "no", failCode: Code.NotFound }),
    (e: TtrpcError) => e.code === Code.NotFound,
  );
  client.close();
  await server.close();
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once("connect", () => resolve(s.destroy()));
      s.once("error", reject);
    }),
    /ECONNREFUSED/,
  );
  // Connection fds close on a later loop turn.
  for (let i = 0; i < 50 && openFds().size !== fds.size; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(openFds(), fds, "no fd left");
});

test("answers larger than the socket buffer arrive whole (queued, written as the peer reads)", async () => {
  const { path, server } = serve();
  const client = await TtrpcClient.connect(path);
  const echo = client.service(Echo);
  const blob = Buffer.alloc(3 << 20);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7) & 0xff;
  const answers = await Promise.all([echo.echo({ text: "a", blob }), echo.echo({ text: "b", blob })]);
  for (const a of answers) assert.ok(Buffer.from(a.blob).equals(blob));
  client.close();
  await server.close();
});

test("a server stream keeps order and waits for a slow reader (drain)", async () => {
  const { path, server } = serve();
  const client = await TtrpcClient.connect(path);
  const echo = client.service(Echo);
  const got: number[] = [];
  for await (const m of echo.serverStream({ text: "x".repeat(64 * 1024), count: 64 })) {
    got.push(m.index);
    if (got.length % 8 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(
    got,
    Array.from({ length: 64 }, (_, i) => i),
  );
  client.close();
  await server.close();
});

test("a client that leaves mid-call aborts the handler; a refused peer is closed unanswered", async () => {
  const { path, server } = serve();
  const raw = await RawConn.connect(path);
  const client = new TtrpcClient(raw.socket);
  const pending = client.service(Echo).echo({ text: "slow", delayMs: 60_000 });
  await new Promise((r) => setTimeout(r, 50));
  raw.socket.destroy();
  await assert.rejects(pending);
  for (let i = 0; i < 100 && server.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.connectionCount, 0, "the server dropped the connection");
  await server.close();

  const refusing = serve({ authorize: () => false });
  const c = await RawConn.connect(refusing.path);
  for (let i = 0; i < 100 && !c.closed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(c.closed, true, "closed by the server");
  await refusing.server.close();
});

test("bad input: a listener on an fd that is not open fails at once with the step named", () => {
  const server = new TtrpcServer();
  assert.throws(() => listenNativeWire(server, 987654), /ttrpc wire|uv_poll|fcntl/);
});
