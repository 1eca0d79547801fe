import assert from "node:assert/strict";
import { test } from "node:test";
import { ProcessStateMachine } from "../../src/shim/process/state.js";
import { Code, TtrpcError } from "../../src/ttrpc/status.js";

function failsWith(fn: () => void, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TtrpcError);
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(err.message, message);
    return true;
  });
}

test("the normal life: created → running → paused → running → stopped → deleted", () => {
  const p = new ProcessStateMachine('container "c1"');
  p.apply("start");
  p.beginPause();
  assert.equal(p.state, "pausing");
  p.endPause(true);
  assert.equal(p.state, "paused");
  p.apply("resume");
  p.apply("exit");
  p.apply("delete");
  assert.equal(p.state, "deleted");
});

test("wrong-state requests answer FailedPrecondition naming what was asked", () => {
  const p = new ProcessStateMachine('container "c1"');
  failsWith(() => p.apply("resume"), 'cannot resume container "c1": it is created');
  p.apply("start");
  failsWith(() => p.apply("start"), 'cannot start container "c1": it is running');
  failsWith(() => p.apply("delete"), 'cannot delete container "c1": it is running');
  p.apply("exit");
  failsWith(() => p.check("exec"), 'cannot exec in container "c1": it is stopped');
  failsWith(() => p.apply("pause"), 'cannot pause container "c1": it is stopped');
});

test("a failed pause goes back to running; kill is allowed after exit (a no-op for containerd)", () => {
  const p = new ProcessStateMachine('process "e1"');
  p.apply("start");
  p.beginPause();
  p.endPause(false);
  assert.equal(p.state, "running");
  p.apply("exit");
  assert.ok(p.can("kill"));
  assert.ok(p.can("delete"));
});

test("a created process may be deleted without ever starting", () => {
  const p = new ProcessStateMachine('container "c2"');
  p.apply("delete");
  assert.equal(p.state, "deleted");
});
