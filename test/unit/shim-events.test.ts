import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import { containerdEventSender } from "../../src/shim/containerd-events.js";
import { EventPublisher, MaybeDelivered, type ShimEvent } from "../../src/shim/events.js";

const quiet = pino({ level: "silent" });

test("events are delivered in order even while containerd rejects them", async () => {
  const got: string[] = [];
  let failures = 3;
  const pub = new EventPublisher(
    async (e: ShimEvent) => {
      if (failures-- > 0) throw new Error("containerd away");
      got.push(e.topic);
    },
    quiet,
    { initialBackoffMs: 1, maxBackoffMs: 4 },
  );
  pub.publish("/tasks/create", "containerd.events.TaskCreate", new Uint8Array());
  pub.publish("/tasks/start", "containerd.events.TaskStart", new Uint8Array());
  pub.publish("/tasks/exit", "containerd.events.TaskExit", new Uint8Array([1]));
  await pub.flushed();
  assert.deepEqual(got, ["/tasks/create", "/tasks/start", "/tasks/exit"]);
  assert.equal(pub.retries, 3);
  assert.equal(pub.published, 3);
});

test("publish never blocks the caller", () => {
  let release: () => void = () => {};
  const pub = new EventPublisher(() => new Promise<void>((r) => (release = r)), quiet);
  pub.publish("/tasks/create", "x", new Uint8Array());
  pub.publish("/tasks/start", "x", new Uint8Array());
  assert.equal(pub.pending, 2);
  release();
});

test("a full queue drops the oldest non-exit event, never an exit", async () => {
  const got: string[] = [];
  let open = false;
  const pub = new EventPublisher(
    async (e) => {
      if (!open) throw new Error("away");
      got.push(e.topic);
    },
    quiet,
    { initialBackoffMs: 1, maxBackoffMs: 2, maxQueued: 2 },
  );
  pub.publish("/tasks/exit", "x", new Uint8Array());
  pub.publish("/tasks/start", "x", new Uint8Array());
  pub.publish("/tasks/delete", "x", new Uint8Array());
  open = true;
  await pub.flushed();
  assert.deepEqual(got, ["/tasks/exit", "/tasks/delete"]);
  assert.equal(pub.dropped, 1);
});

test("a send cut off after it went out is MaybeDelivered (retried: at least once); a refused dial is not", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-events-"));
  const path = join(dir, "containerd.sock.ttrpc");
  try {
    const refused = containerdEventSender(`unix://${path}`, "ns");
    const event: ShimEvent = {
      topic: "/tasks/exit",
      typeUrl: "x",
      payload: new Uint8Array(),
      timestamp: new Date(),
    };
    const before = await refused(event).catch((e: unknown) => e);
    assert.ok(before instanceof Error && !(before instanceof MaybeDelivered), String(before));

    // containerd that reads the request and dies before answering.
    let requests = 0;
    const server = createServer((sock) => {
      sock.once("data", () => {
        requests++;
        sock.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      const cut = await containerdEventSender(`unix://${path}`, "ns")(event).catch((e: unknown) => e);
      assert.ok(cut instanceof MaybeDelivered, String(cut));
      assert.equal(requests, 1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the retry log names the event's container and process and whether containerd may have it", async () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "warn" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const failures = [new MaybeDelivered(new Error("ttrpc: closed")), new Error("connect ECONNREFUSED")];
  const sent: ShimEvent[] = [];
  const pub = new EventPublisher(
    async (e) => {
      const f = failures.shift();
      if (f !== undefined) throw f;
      sent.push(e);
    },
    log,
    { initialBackoffMs: 1, maxBackoffMs: 2 },
  );
  pub.publish("/tasks/exit", "x", new Uint8Array([7]), { container: "c1", process: "e1" });
  await pub.flushed();
  assert.equal(sent.length, 1);
  assert.deepEqual(
    lines.map(({ topic, container, process, err, maybeDelivered }) => ({
      topic,
      container,
      process,
      err,
      maybeDelivered,
    })),
    [
      {
        topic: "/tasks/exit",
        container: "c1",
        process: "e1",
        err: "Error: ttrpc: closed",
        maybeDelivered: true,
      },
      {
        topic: "/tasks/exit",
        container: "c1",
        process: "e1",
        err: "Error: connect ECONNREFUSED",
        maybeDelivered: false,
      },
    ],
  );
});
