// The exit order containerd relies on: an exec's TaskExit comes before its
// init's, the init's only once every exec has been reported; and when the init
// of a container without its own PID namespace dies, what remains of the
// container is killed (the kernel would do it for a PID namespace's init).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { TaskExitSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import { unpackAnyAs } from "../../src/api/typeurl.js";
import type { Containerd } from "../helpers/containerd.js";
import { EventWatcher, READY_TOPIC } from "../helpers/events.js";
import { closeFileContainerd, openFileContainerd } from "../helpers/file-containerd.js";
import type { ContainerdClient } from "../helpers/grpc.js";
import { assertNoLeaks, type LeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let api: ContainerdClient;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  ({ cd, api, image, snapshot } = await openFileContainerd());
});

after(() => closeFileContainerd(api, cd));

/** Running: not gone and not a zombie (a killed process the reaper has not collected yet is dead). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

/** The processes still running after SIGKILL has had `ms` to land. */
async function stillRunning(pids: readonly number[], ms = 2_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = pids.filter(running);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("host PID namespace: the init dies, its exec and background processes are killed, exec exit reported first", async () => {
  const id = "order";
  const watcher = await EventWatcher.start(api, ['topic=="/tasks/exit"', `topic=="${READY_TOPIC}"`]);
  try {
    const hostPidNs = ["--with-ns", `pid:/proc/${process.pid}/ns/pid`];
    // The init leaves a background sleeper and exits when told to (SIGUSR1 via a trap).
    const run = await cd.ctr([
      "run",
      "-d",
      ...hostPidNs,
      ...cd.runtimeFlags("tsshim"),
      image,
      id,
      "sh",
      "-c",
      "sleep 3600 & trap 'exit 9' USR1; while true; do sleep 0.1; done",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const exec = cd.spawnCtr(["task", "exec", "--exec-id", "long", id, "sleep", "3600"]);
    let execPid = 0;
    const deadline = Date.now() + 10_000;
    while (execPid === 0 && Date.now() < deadline) {
      const ps = await cd.ctr(["task", "ps", id]);
      execPid = Number.parseInt(ps.stdout.match(/^(\d+)\s+.*ExecID:long\b/m)?.[1] ?? "0", 10);
      if (execPid === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(execPid > 0, "the exec runs");
    const ps = await cd.ctr(["task", "ps", id]);
    const pids = [...ps.stdout.matchAll(/^(\d+)\s/gm)].map((m) => Number.parseInt(m[1]!, 10));
    assert.ok(pids.length >= 3, `init, its background sleeper and the exec: ${ps.stdout}`);

    assert.equal((await cd.ctr(["task", "kill", "-s", "SIGUSR1", id])).code, 0);
    const initExit = await watcher.next(
      (e) => e.topic === "/tasks/exit" && unpackAnyAs(e.event!, TaskExitSchema).id === id,
      15_000,
    );
    const exits = watcher.received
      .filter((e) => e.topic === "/tasks/exit")
      .map((e) => unpackAnyAs(e.event!, TaskExitSchema))
      .filter((x) => x.containerId === id);
    assert.deepEqual(
      exits.map((x) => x.id),
      ["long", id],
      "the exec's exit is reported before the init's, each once",
    );
    assert.equal(exits[0]!.exitStatus, 137, "the exec was killed with the container");
    assert.equal(unpackAnyAs(initExit.event!, TaskExitSchema).exitStatus, 9);
    // Killed when the init died: the shim reports the init's exit once the
    // cgroup is empty, but a killed process stays a zombie (kill(pid, 0)
    // still succeeds) until the reaper collects it.
    assert.deepEqual(await stillRunning(pids), [], "every process of the container is gone");
    exec.kill();
  } finally {
    await watcher.close();
  }
  assert.equal((await cd.ctr(["task", "rm", id])).code, 0);
  assert.equal((await cd.ctr(["container", "rm", id])).code, 0);
  api.close(); // the test's own gRPC connection is not the shim's leak
  await assertNoLeaks(snapshot);
});
