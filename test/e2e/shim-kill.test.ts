// A shim killed with SIGKILL: containerd notices, runs `containerd-shim-tsshim-v2
// delete`, and nothing of the container is left — no process, no mount, no
// cgroup, no socket — while the task is reported stopped with status 137.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { type Containerd, isShimOf, startContainerd } from "../helpers/containerd.js";
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
  if (existsSync(cd.dir)) await cd.stop();
});

function tsshimPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      if (argv[0] === "containerd-shim-tsshim-v2" && isShimOf(argv, cd.address)) {
        out.push(Number(name));
      }
    } catch {
      // gone
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("kill -9 of a shim: containerd cleans up through delete and nothing is left", async () => {
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, "victim", "sleep", "3600"]);
  assert.equal(run.code, 0, run.stderr);
  const ls = await cd.ctr(["task", "ls"]);
  const pid = Number.parseInt(ls.stdout.match(/victim\s+(\d+)/)![1]!, 10);
  const shims = tsshimPids();
  assert.equal(shims.length, 1, "one tsshim daemon for the container");
  process.kill(shims[0]!, "SIGKILL");

  // containerd sees the shim's connection drop and runs the delete verb.
  const deadline = Date.now() + 15_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(pid), false, "the container's process was killed by the delete verb");
  let status = "";
  while (Date.now() < deadline) {
    const r = await cd.ctr(["task", "ls"]);
    status = r.stdout.match(/victim\s+\d+\s+(\S+)/)?.[1] ?? "gone";
    if (status !== "RUNNING") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.notEqual(status, "RUNNING");
  await cd.ctr(["task", "rm", "-f", "victim"]);
  const rm = await cd.ctr(["container", "rm", "victim"]);
  assert.equal(rm.code, 0, rm.stderr);
  await assertNoLeaks(snapshot);
});
