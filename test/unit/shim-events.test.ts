import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { EventPublisher, type ShimEvent } from "../../src/shim/events.js";

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
