// The `delete` verb against real cgroups: a shim killed inside Create after
// it made the container's cgroup but before it wrote tsshim.json leaves a
// cgroup (with the init in it, blocked before execve) that only config.json
// names. containerd runs `delete` for it; nothing may be left.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CgroupManager } from "../../src/oci/cgroups/index.js";
import { deleteShim } from "../../src/shim/delete.js";

const top = `tsshim-test-delete-${process.pid}`;
const bundle = mkdtempSync(join(tmpdir(), "tsshim-delete-"));
const children: ChildProcess[] = [];

after(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(bundle, { recursive: true, force: true });
  // The test's parent cgroup in every hierarchy (the verb removes only the container's).
  for (const dir of new CgroupManager({ cgroupsPath: `/${top}/x`, id: "x" }).dirs()) {
    try {
      rmdirSync(join(dir, ".."));
    } catch {
      // not created in this hierarchy
    }
  }
});

/** Resolves when `c` has exited, or after `ms` (the assertion then reports it alive). */
function exited(c: ChildProcess, ms: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    c.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test("delete verb without tsshim.json: the cgroup config.json names is emptied and removed", async () => {
  const cgroupsPath = `/${top}/c1`;
  writeFileSync(join(bundle, "config.json"), JSON.stringify({ ociVersion: "1.0.2", linux: { cgroupsPath } }));
  const cgroup = new CgroupManager({ cgroupsPath, id: "c1" });
  cgroup.create();
  const init = spawn("sleep", ["60"], { stdio: "ignore" });
  children.push(init);
  assert.ok(init.pid !== undefined);
  cgroup.enter(init.pid);
  assert.deepEqual(cgroup.pids(), [init.pid]);

  const warnings: string[] = [];
  await deleteShim("c1", bundle, (m) => warnings.push(m));

  await exited(init, 5_000);
  assert.equal(init.signalCode, "SIGKILL", "the process in the cgroup was not killed");
  assert.deepEqual(
    cgroup.dirs().filter((d) => existsSync(d)),
    [],
    "cgroup dirs left",
  );
  assert.deepEqual(warnings, []);
});

test("delete verb: a cgroup Create made in only one hierarchy before the kill is emptied and removed", async () => {
  const cgroupsPath = `/${top}/c3`;
  const dir = join(bundle, "partial");
  mkdirSync(dir);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ociVersion: "1.0.2", linux: { cgroupsPath } }));
  const cgroup = new CgroupManager({ cgroupsPath, id: "c3" });
  const first = cgroup.dirs()[0];
  assert.ok(first !== undefined);
  mkdirSync(first, { recursive: true });
  assert.equal(cgroup.state(), "absent", "a partial cgroup reads as absent");
  const init = spawn("sleep", ["60"], { stdio: "ignore" });
  children.push(init);
  assert.ok(init.pid !== undefined);
  writeFileSync(join(first, "cgroup.procs"), String(init.pid));

  const warnings: string[] = [];
  await deleteShim("c3", dir, (m) => warnings.push(m));

  await exited(init, 5_000);
  assert.equal(init.signalCode, "SIGKILL", "the process in the partial cgroup was not killed");
  assert.equal(existsSync(first), false, `${first} left`);
  assert.deepEqual(warnings, []);
});

test("delete verb without tsshim.json and without config.json: nothing to do, no error", async () => {
  const empty = mkdtempSync(join(tmpdir(), "tsshim-delete-empty-"));
  try {
    const warnings: string[] = [];
    const out = await deleteShim("c2", empty, (m) => warnings.push(m));
    assert.ok(out.length > 0);
    assert.deepEqual(warnings, []);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
