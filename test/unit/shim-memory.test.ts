// The daemon's idle compaction policy (src/shim/memory.ts): when it runs,
// what postpones it, and that wrapping the Task service changes no answer.
import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  compactWhenIdle,
  DEFAULT_COMPACT_IDLE_MS,
  daemonCompactor,
  forkedCompaction,
  IdleCompactor,
} from "../../src/shim/memory.js";

test("compacts once after the idle time, and every touch postpones it", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  let runs = 0;
  const c = new IdleCompactor(() => runs++, 500);
  c.touch();
  t.mock.timers.tick(400);
  c.touch();
  t.mock.timers.tick(400);
  assert.equal(runs, 0, "a call 400 ms in restarted the countdown");
  t.mock.timers.tick(100);
  assert.equal(runs, 1);
  t.mock.timers.tick(10_000);
  assert.equal(runs, 1, "no activity, no further compaction");
  assert.equal(c.compactions, 1);
});

test("idle time 0 turns compaction off; stop() cancels a pending one", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  let runs = 0;
  const off = new IdleCompactor(() => runs++, 0);
  off.touch();
  t.mock.timers.tick(60_000);
  assert.equal(runs, 0);
  const on = new IdleCompactor(() => runs++, 100);
  on.touch();
  on.stop();
  t.mock.timers.tick(1_000);
  assert.equal(runs, 0);
});

test("wrapped handlers answer, fail and see `this` exactly as before, touching at call and settle", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const touches: string[] = [];
  const compactor = new IdleCompactor(() => {}, 100);
  mock.method(compactor, "touch", () => touches.push("touch"));
  let release: (v: { pid: number }) => void = () => {};
  const impl = {
    name: "task",
    state(req: { id: string }) {
      touches.push("handler");
      return { id: req.id, owner: this.name };
    },
    async create(req: { id: string }) {
      if (req.id === "") throw new Error("id required");
      return { pid: 42 };
    },
    wait(): Promise<{ pid: number }> {
      return new Promise((resolve) => {
        release = resolve;
      });
    },
  };
  const wrapped = compactWhenIdle(impl, compactor);
  assert.equal(wrapped.name, "task");
  assert.deepEqual(wrapped.state({ id: "c1" }), { id: "c1", owner: "task" });
  assert.deepEqual(touches, ["touch", "handler"], "a synchronous answer touches once, before the handler");
  touches.length = 0;
  assert.deepEqual(await wrapped.create({ id: "c1" }), { pid: 42 });
  await assert.rejects(wrapped.create({ id: "" }), /id required/);
  assert.equal(touches.length, 4, "each async call touches when called and when settled");
  touches.length = 0;
  const waiting = wrapped.wait();
  assert.equal(touches.length, 1, "a pending Wait touched once");
  release({ pid: 7 });
  assert.deepEqual(await waiting, { pid: 7 });
  assert.equal(touches.length, 2, "and again when the process exited");
});

test("daemonCompactor reads TSSHIM_COMPACT_IDLE_MS (0: off, garbage: the default) and is already counting down", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  let runs = 0;
  const count = (): void => {
    runs++;
  };
  daemonCompactor({ TSSHIM_COMPACT_IDLE_MS: "0" }, count);
  t.mock.timers.tick(60_000);
  assert.equal(runs, 0);
  daemonCompactor({ TSSHIM_COMPACT_IDLE_MS: "200" }, count);
  t.mock.timers.tick(199);
  assert.equal(runs, 0);
  t.mock.timers.tick(1);
  assert.equal(runs, 1, "a daemon that just booted compacts without waiting for a call");
  daemonCompactor({ TSSHIM_COMPACT_IDLE_MS: "soon" }, count);
  t.mock.timers.tick(DEFAULT_COMPACT_IDLE_MS - 1);
  assert.equal(runs, 1);
  t.mock.timers.tick(1);
  assert.equal(runs, 2);
});

test("a forked shim only trims malloc until V8 has run a full collection of its own, then compacts", async () => {
  const calls: string[] = [];
  const native = {
    memoryTrim: () => calls.push("trim") > 0,
    memoryCompactHeap: () => calls.push("heap") > 0,
  };
  const compact = forkedCompaction(native);
  compact();
  assert.deepEqual(calls, ["trim"], "the heap is still shared with the spare: no full collection");
  setFlagsFromString("--expose-gc");
  // gc() is a full collection; {type: "minor"} a scavenge.
  const gc = runInNewContext("gc") as (opts?: { type: "minor" }) => void;
  gc({ type: "minor" });
  await new Promise((r) => setTimeout(r, 50));
  compact();
  assert.deepEqual(calls, ["trim", "trim"], "a scavenge leaves most of the heap shared");
  gc();
  await new Promise((r) => setTimeout(r, 50));
  compact();
  assert.deepEqual(calls, ["trim", "trim", "heap", "trim"]);
});
