// Resources through real containerd with tsshim: limits from ctr flags read back from the
// cgroup files, an OOM kill reported as TaskOOM before TaskExit with status 137, a gRPC Update
// of a running container (memory, pids) that stops a fork loop, metrics that grow with the
// workload, pause/resume of a counter, the device policy, and no cgroup left after cycles.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { TaskExitSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import { MetricsSchema } from "../../src/api/gen/io/containerd/cgroups/v1/metrics_pb.js";
import { packJsonAny, specTypeUrls } from "../../src/api/typeurl.js";
import type { Containerd } from "../helpers/containerd.js";
import { EventWatcher } from "../helpers/events.js";
import { closeFileContainerd, openFileContainerd } from "../helpers/file-containerd.js";
import type { ContainerdClient } from "../helpers/grpc.js";
import { assertNoLeaks, type LeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let image: string;
let api: ContainerdClient;
let snapshot: LeakSnapshot;

before(async () => {
  ({ cd, api, image, snapshot } = await openFileContainerd());
});

after(() => closeFileContainerd(api, cd));

const v1 = (ctrl: string, id: string, file: string) => join("/sys/fs/cgroup", ctrl, cd.namespace, id, file);
const readV1 = (ctrl: string, id: string, file: string) => readFileSync(v1(ctrl, id, file), "utf8").trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ctrOk(args: string[], timeoutMs = 30_000): Promise<string> {
  const r = await cd.ctr(args, { timeoutMs });
  assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function remove(id: string): Promise<void> {
  await cd.ctr(["task", "kill", "-s", "SIGKILL", id]);
  await ctrOk(["task", "rm", "-f", id]);
  await ctrOk(["container", "rm", id]);
}

/** One metric row of `ctr task metrics` (v1 table: "memory.usage_in_bytes   1234"). */
async function metric(id: string, name: string): Promise<string> {
  const out = await ctrOk(["task", "metrics", id]);
  const row = out.split("\n").find((l) => l.trim().split(/\s+/)[0] === name);
  assert.ok(row !== undefined, `no ${name} in ctr task metrics:\n${out}`);
  return row.trim().split(/\s+/).slice(1).join(" ");
}

test("ctr run --memory-limit/--cpu-quota/--cpu-period reach the cgroup files; metrics show them and the throttling", async () => {
  await ctrOk([
    "run",
    "-d",
    "--memory-limit",
    String(64 << 20),
    "--cpu-quota",
    "5000",
    "--cpu-period",
    "100000",
    ...cd.runtimeFlags("tsshim"),
    image,
    "lim",
    "sleep",
    "3600",
  ]);
  try {
    assert.equal(readV1("memory", "lim", "memory.limit_in_bytes"), String(64 << 20));
    assert.equal(readV1("cpu", "lim", "cpu.cfs_quota_us"), "5000");
    assert.equal(readV1("cpu", "lim", "cpu.cfs_period_us"), "100000");
    assert.equal(await metric("lim", "memory.limit_in_bytes"), String(64 << 20));
    assert.ok(Number(await metric("lim", "cpuacct.usage")) > 0, "cpu usage is counted");
    assert.equal(await metric("lim", "pids.current"), "1");
    // A busy loop over the 5% quota is throttled (even on a loaded machine), which the gRPC Metrics report.
    const spin = await cd.ctr(
      ["task", "exec", "--exec-id", "spin", "lim", "timeout", "2", "sh", "-c", "while :; do :; done"],
      { timeoutMs: 15_000 },
    );
    assert.equal(spin.code, 143, `the loop ends by timeout's SIGTERM: ${spin.stderr}`);
    const m = await api.tasks.metrics({ filters: ["id==lim"] });
    const stats = fromBinary(MetricsSchema, m.metrics[0]!.data!.value);
    assert.ok(
      (stats.cpu?.throttling?.throttledPeriods ?? 0n) > 0n,
      `the quota throttled the loop: ${readV1("cpu", "lim", "cpu.stat")}`,
    );
    assert.ok((stats.cpu?.usage?.user ?? 0n) + (stats.cpu?.usage?.kernel ?? 0n) > 0n);
  } finally {
    await remove("lim");
  }
});

test("a memory hog is OOM-killed: TaskOOM before TaskExit, exit status 137", async () => {
  const w = await EventWatcher.start(api, [`namespace==${cd.namespace}`, 'topic~="/tasks/"']);
  try {
    const r = await cd.ctr(
      [
        "run",
        "--memory-limit",
        String(32 << 20),
        ...cd.runtimeFlags("tsshim"),
        image,
        "hog",
        "sh",
        "-c",
        "x=0123456789; while :; do x=$x$x; done",
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(r.code, 137, `ctr run exit code (stderr: ${r.stderr})`);
    const oom = await w.next((e) => e.topic === "/tasks/oom");
    const exit = await w.next(
      (e) => e.topic === "/tasks/exit" && fromBinary(TaskExitSchema, e.event!.value).containerId === "hog",
    );
    const ev = fromBinary(TaskExitSchema, exit.event!.value);
    assert.equal(ev.exitStatus, 137);
    assert.ok(w.received.indexOf(oom) < w.received.indexOf(exit), "TaskOOM comes before TaskExit");
  } finally {
    await w.close();
    await ctrOk(["container", "rm", "hog"]);
  }
});

test("Update through the Tasks API changes memory and pids limits; the pids limit stops a fork loop", async () => {
  await ctrOk(["run", "-d", ...cd.runtimeFlags("tsshim"), image, "upd", "sleep", "3600"]);
  try {
    assert.equal(readV1("pids", "upd", "pids.max"), "max");
    await api.tasks.update({
      containerId: "upd",
      resources: packJsonAny(specTypeUrls.linuxResources, {
        memory: { limit: 100 << 20 },
        pids: { limit: 6 },
      }),
    });
    assert.equal(readV1("memory", "upd", "memory.limit_in_bytes"), String(100 << 20));
    assert.equal(readV1("pids", "upd", "pids.max"), "6");
    const r = await cd.ctr(
      [
        "task",
        "exec",
        "--exec-id",
        "forks",
        "upd",
        "sh",
        "-c",
        "i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); done; echo forked-all",
      ],
      { timeoutMs: 30_000 },
    );
    assert.match(r.stderr + r.stdout, /can't fork/);
    assert.doesNotMatch(r.stdout, /forked-all/);
    assert.ok(Number(readV1("pids", "upd", "pids.events").split(/\s+/)[1]) > 0, "pids.events max > 0");
    assert.equal(await metric("upd", "pids.limit"), "6");
  } finally {
    await remove("upd");
  }
});

test("ctr task metrics: memory usage grows when the workload allocates", async () => {
  await ctrOk(["run", "-d", ...cd.runtimeFlags("tsshim"), image, "grow", "sleep", "3600"]);
  try {
    const before = Number(await metric("grow", "memory.usage_in_bytes"));
    await ctrOk([
      "task",
      "exec",
      "--exec-id",
      "alloc",
      "grow",
      "dd",
      "if=/dev/zero",
      "of=/dev/shm/blob",
      "bs=1M",
      "count=48",
    ]);
    const afterAlloc = Number(await metric("grow", "memory.usage_in_bytes"));
    assert.ok(afterAlloc >= before + (40 << 20), `usage ${before} -> ${afterAlloc}`);
    // The gRPC view carries the same v1 Metrics message.
    const m = await api.tasks.metrics({ filters: ["id==grow"] });
    const data = m.metrics[0]?.data;
    assert.equal(data?.typeUrl, "io.containerd.cgroups.v1.Metrics");
    const metrics = fromBinary(MetricsSchema, data!.value);
    assert.ok((metrics.memory?.usage?.usage ?? 0n) >= BigInt(afterAlloc - (8 << 20)));
    assert.ok((metrics.memory?.totalCache ?? 0n) >= BigInt(40 << 20), "tmpfs pages count as cache");
  } finally {
    await remove("grow");
  }
});

test("pause stops a counter inside the container, resume restarts it; exec while paused is refused", async () => {
  await ctrOk([
    "run",
    "-d",
    ...cd.runtimeFlags("tsshim"),
    image,
    "ctr1",
    "sh",
    "-c",
    // Renamed into place: a read never sees the file empty between truncate and write.
    "i=0; while :; do i=$((i+1)); echo $i > /tmp/next; mv /tmp/next /tmp/count; usleep 20000; done",
  ]);
  const counter = join(
    cd.state,
    "io.containerd.runtime.v2.task",
    cd.namespace,
    "ctr1",
    "rootfs",
    "tmp",
    "count",
  );
  const read = () => Number(readFileSync(counter, "utf8").trim() || "0");
  try {
    await sleep(300);
    await ctrOk(["task", "pause", "ctr1"]);
    const frozenAt = read();
    await sleep(600);
    assert.equal(read(), frozenAt, "the counter does not advance while paused");
    assert.equal(readV1("freezer", "ctr1", "freezer.state"), "FROZEN");
    const exec = await cd.ctr(["task", "exec", "--exec-id", "late", "ctr1", "true"]);
    assert.notEqual(exec.code, 0);
    assert.match(exec.stderr, /cannot exec in container "ctr1": it is paused: failed precondition/);
    await ctrOk(["task", "resume", "ctr1"]);
    for (let i = 0; i < 100 && read() <= frozenAt; i++) await sleep(50);
    assert.ok(read() > frozenAt, "the counter advances again after resume");
  } finally {
    await remove("ctr1");
  }
});

test("device policy: a denied device cannot be opened, an allowed one can", async () => {
  const r = await cd.ctr([
    "run",
    "--rm",
    ...cd.runtimeFlags("tsshim"),
    image,
    "dev",
    "sh",
    "-c",
    "mknod /tmp/mem c 1 1 && head -c1 /tmp/mem; echo denied=$?; head -c1 /dev/zero | wc -c",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /Operation not permitted/);
  assert.match(r.stdout, /denied=1/);
  assert.match(r.stdout, /^\s*1$/m, "one byte read from /dev/zero");
});

test("100 create/delete cycles leave no cgroup directory", async () => {
  const ids = Array.from({ length: 100 }, (_, i) => `cyc${i}`);
  for (let i = 0; i < ids.length; i += 5) {
    await Promise.all(
      ids
        .slice(i, i + 5)
        .map((id) =>
          ctrOk([
            "run",
            "--rm",
            "--memory-limit",
            String(64 << 20),
            ...cd.runtimeFlags("tsshim"),
            image,
            id,
            "true",
          ]),
        ),
    );
  }
  for (const ctrl of ["memory", "cpu", "pids", "freezer", "devices", "blkio", "unified"]) {
    const dir = join("/sys/fs/cgroup", ctrl, cd.namespace);
    const left = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith("cyc")) : [];
    assert.deepEqual(left, [], `cgroup dirs left under ${dir}`);
  }
  await assertNoLeaks(snapshot);
});
