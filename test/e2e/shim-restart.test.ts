// containerd can restart without killing containers: kill -9 containerd with
// five running tsshim containers while one of them exits and writes output,
// start it again, and everything must be as a user left it — the same pids
// RUNNING, the exit reported STOPPED with its exact status, the output there,
// exec/kill/wait working, and nothing left behind afterwards.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { containerdClient } from "../helpers/grpc.js";
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

async function ctrOk(args: string[]): Promise<string> {
  const r = await cd.ctr(args, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function taskTable(): Promise<Map<string, { pid: number; status: string }>> {
  const out = await ctrOk(["task", "ls"]);
  const rows = new Map<string, { pid: number; status: string }>();
  for (const line of out.split("\n").slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id !== undefined && id !== "" && pid !== undefined && status !== undefined) {
      rows.set(id, { pid: Number.parseInt(pid, 10), status });
    }
  }
  return rows;
}

test("kill -9 containerd with 5 running containers, restart: all survive, exits meanwhile are reported", async () => {
  const ids = ["r1", "r2", "r3", "r4"];
  for (const id of ids) {
    await ctrOk(["run", "-d", ...cd.runtimeFlags("tsshim"), image, id, "sleep", "3600"]);
  }
  // The fifth exits while containerd is away, writing to a file:// log.
  const log = join(cd.dir, "late.log");
  await ctrOk([
    "run",
    "-d",
    "--log-uri",
    `file://${log}`,
    ...cd.runtimeFlags("tsshim"),
    image,
    "late",
    "sh",
    "-c",
    "sleep 2; echo written-while-containerd-was-down; exit 3",
  ]);
  const before = await taskTable();
  assert.equal(before.size, 5);
  for (const row of before.values()) assert.equal(row.status, "RUNNING");

  await cd.kill9();
  await new Promise((r) => setTimeout(r, 4_000));
  await cd.restart();

  const after = await taskTable();
  for (const id of ids) {
    assert.deepEqual(after.get(id), { pid: before.get(id)!.pid, status: "RUNNING" }, `${id} after restart`);
  }
  assert.equal(after.get("late")?.status, "STOPPED");

  const client = containerdClient(cd.address, cd.namespace);
  try {
    const late = await client.tasks.get({ containerId: "late" });
    assert.equal(late.process?.status, Status.STOPPED);
    assert.equal(late.process?.exitStatus, 3);
    assert.ok((late.process?.exitedAt?.seconds ?? 0n) > 0n, "exited_at is set");
  } finally {
    client.close();
  }
  assert.equal(readFileSync(log, "utf8"), "written-while-containerd-was-down\n");

  // The restarted containerd drives the shims as before.
  const exec = await cd.ctr(["task", "exec", "--exec-id", "after", "r1", "sh", "-c", "echo exec-ok; exit 4"]);
  assert.equal(exec.stdout, "exec-ok\n");
  assert.equal(exec.code, 4);
  for (const id of ids) {
    await ctrOk(["task", "kill", "-s", "SIGKILL", id]);
  }
  for (const id of [...ids, "late"]) {
    // `task rm` waits for the exit and deletes; then the container record goes.
    await ctrOk(["task", "rm", "-f", id]);
    await ctrOk(["container", "rm", id]);
  }
  assert.equal((await taskTable()).size, 0);
  await assertNoLeaks(snapshot);
});
