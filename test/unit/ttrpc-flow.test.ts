// Flow control: a slow reader stops its connection's reads instead of buffering without bound, and a
// reader that stalls for a second loses its stream (not the connection), as in containerd/ttrpc.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, startPair, TtrpcError } from "./ttrpc-echo.js";

test("a slow consumer of a fast server stream gets every message, in order", async () => {
  const p = await startPair();
  try {
    let n = 0;
    for await (const m of p.echo.serverStream({ text: "fast", count: 5000 })) {
      assert.equal(m.index, n);
      n++;
      if (n % 1000 === 0) await sleep(20);
    }
    assert.equal(n, 5000);
  } finally {
    await p.cleanup();
  }
});

test("a fast client stream into a slow handler delivers every message", async () => {
  const p = await startPair();
  try {
    const cs = p.echo.clientStream();
    for (let i = 0; i < 3000; i++) await cs.send({ text: "x", delayMs: i % 1000 === 999 ? 30 : 0 });
    const res = await cs.closeAndRecv();
    assert.equal(res.index, 3000);
  } finally {
    await p.cleanup();
  }
});

test("a stream whose reader stalls fails with ResourceExhausted after ~1 s; the connection goes on", async () => {
  const p = await startPair();
  try {
    const t0 = Date.now();
    const stream = p.echo.serverStream({ text: "never read", count: 100_000 });
    // Never read: the stream must be dropped about a second after its backlog stopped the connection.
    while (p.client.pending > 0 && Date.now() - t0 < 15_000) await sleep(50);
    const err = await stream.recv().then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof TtrpcError, String(err));
    assert.equal(err.code, Code.ResourceExhausted);
    assert.equal(err.message, "ttrpc: stream buffer full");
    assert.ok(Date.now() - t0 >= 1000);
    assert.equal((await p.echo.echo({ text: "still served" })).text, "still served");
  } finally {
    await p.cleanup();
  }
});
