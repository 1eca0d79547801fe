// Many short execs in a row into one tsshim task: every `ctr task exec` must
// start and report its process's exit code, however fast the process exits
// (an exec that is gone before Start returns is the racy case).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  cd = await startContainerd();
  image = await importBusyboxImage(cd);
  snapshot = takeLeakSnapshot(cd);
});

after(async () => {
  await cd?.stop();
});

test("100 short-lived execs: each starts and its exit code comes back", async () => {
  const id = "execs";
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, id, "sleep", "1000"]);
  assert.equal(run.code, 0, run.stderr);
  const failures: string[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      const want = i % 4;
      const e = await cd.ctr(["task", "exec", "--exec-id", `x${i}`, id, "sh", "-c", `exit ${want}`]);
      if (e.code !== want || e.stderr !== "")
        failures.push(`exec ${i}: code ${e.code}, stderr ${e.stderr.trim()}`);
    }
    assert.deepEqual(failures, []);
    const ps = await cd.ctr(["task", "ps", id]);
    assert.equal(ps.stdout.trim().split("\n").length, 2, `only the init is left: ${ps.stdout}`);
  } finally {
    await cd.ctr(["task", "kill", "-s", "SIGKILL", id]);
    await cd.ctr(["task", "rm", "-f", id]);
    await cd.ctr(["container", "rm", id]);
  }
});

test("nothing is left behind", async () => {
  await assertNoLeaks(snapshot);
});
