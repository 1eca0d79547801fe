// A detached tsshim task driven with `ctr task …` the way a user would:
// ls, exec, ps, kill (one signal, and -a), pause/resume, rm and attach.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Containerd } from "../helpers/containerd.js";
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

const tsshim = (): string[] => cd.runtimeFlags("tsshim");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runDetached(id: string, args: string[], extra: string[] = []): Promise<number> {
  const r = await cd.ctr(["run", "-d", ...extra, ...tsshim(), image, id, ...args]);
  assert.equal(r.code, 0, `ctr run -d ${id}: ${r.stderr}`);
  return taskPid(id);
}

async function taskRow(id: string): Promise<{ pid: number; status: string } | undefined> {
  const ls = await cd.ctr(["task", "ls"]);
  assert.equal(ls.code, 0, ls.stderr);
  const m = ls.stdout.match(new RegExp(`^${id}\\s+(\\d+)\\s+(\\S+)$`, "m"));
  return m === null ? undefined : { pid: Number(m[1]), status: m[2]! };
}

async function taskPid(id: string): Promise<number> {
  const row = await taskRow(id);
  assert.ok(row !== undefined, `task ${id} not listed`);
  return row.pid;
}

async function waitForStatus(id: string, status: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    last = (await taskRow(id))?.status;
    if (last === status) return;
    await sleep(50);
  }
  assert.fail(`task ${id} is ${last ?? "absent"}, expected ${status}`);
}

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** `ctr task ps` rows: pid and INFO column. */
async function taskPs(id: string): Promise<{ pid: number; info: string }[]> {
  const ps = await cd.ctr(["task", "ps", id]);
  assert.equal(ps.code, 0, ps.stderr);
  const lines = ps.stdout.trim().split("\n");
  assert.match(lines[0] ?? "", /^PID\s+INFO$/);
  return lines.slice(1).map((l) => {
    const [pid, ...info] = l.trim().split(/\s+/);
    return { pid: Number(pid), info: info.join(" ") };
  });
}

async function removeTask(id: string): Promise<void> {
  await cd.ctr(["task", "kill", "-a", "-s", "SIGKILL", id]).catch(() => undefined);
  await api.tasks.wait({ containerId: id }, { timeoutMs: 10_000 }).catch(() => undefined);
  await cd.ctr(["task", "rm", "-f", id]);
  const rm = await cd.ctr(["container", "rm", id]);
  assert.equal(rm.code, 0, `container rm ${id}: ${rm.stderr}`);
}

/** Output of a streaming ctr, kept as text as it arrives. */
function collect(child: ChildProcess): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number>;
} {
  let out = "";
  let err = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const exit = new Promise<number>((resolve) => child.once("close", (code) => resolve(code ?? -1)));
  return { child, out: () => out, err: () => err, exit };
}

test("run -d, task ls, exec (stdout, stderr, exit code) and ps with the exec's id", async () => {
  const id = "det";
  const pid = await runDetached(id, ["sleep", "1000"]);
  try {
    assert.ok(pid > 1);
    assert.equal((await taskRow(id))?.status, "RUNNING");
    assert.ok(alive(pid), "the task's pid is a live process on the host");

    const e = await cd.ctr([
      "task",
      "exec",
      "--exec-id",
      "e1",
      id,
      "sh",
      "-c",
      "echo out-$((6*7)); echo err-line >&2; exit 3",
    ]);
    assert.deepEqual([e.code, e.stdout, e.stderr], [3, "out-42\n", "err-line\n"]);

    // An exec that is still running shows up in ps with its exec id.
    const bg = collect(
      cd.spawnCtr(["task", "exec", "--exec-id", "bg-exec", id, "sh", "-c", "echo up; exec sleep 1000"]),
    );
    await waitFor("the exec to print", () => bg.out() === "up\n");
    const rows = await taskPs(id);
    assert.equal(rows.length, 2, JSON.stringify(rows)); // init and the exec
    assert.deepEqual(rows.find((r) => r.pid === pid)?.info, "-");
    const execRow = rows.find((r) => r.info.includes("ExecID:bg-exec"));
    assert.ok(execRow !== undefined, `no ps row names the exec: ${JSON.stringify(rows)}`);
    assert.ok(alive(execRow.pid));

    const k = await cd.ctr(["task", "kill", "--exec-id", "bg-exec", "-s", "SIGKILL", id]);
    assert.equal(k.code, 0, k.stderr);
    assert.equal(await bg.exit, 137);
    let left: { pid: number; info: string }[] = [];
    await waitFor("the exec to be gone from ps", async () => {
      left = await taskPs(id);
      return left.length === 1;
    }).catch((err: unknown) =>
      assert.fail(
        `${String(err)}: ${JSON.stringify(left)} ${left.map((r) => readFileSync(`/proc/${r.pid}/stat`, "utf8")).join(" | ")}`,
      ),
    );
    assert.equal((await taskRow(id))?.status, "RUNNING", "the init survives its exec");
  } finally {
    await removeTask(id);
  }
});

test("ctr task kill: one signal to a process that traps it; -a ends init and background children", async () => {
  const trap = collect(
    cd.spawnCtr([
      "run",
      "--rm",
      ...tsshim(),
      image,
      "trapper",
      "sh",
      "-c",
      "trap 'echo got-USR1; exit 42' USR1; echo ready; while true; do sleep 0.05; done",
    ]),
  );
  await waitFor("the trap to be set", () => trap.out() === "ready\n");
  const k = await cd.ctr(["task", "kill", "-s", "SIGUSR1", "trapper"]);
  assert.equal(k.code, 0, k.stderr);
  assert.equal(await trap.exit, 42, trap.err());
  assert.equal(trap.out(), "ready\ngot-USR1\n");

  // A namespace init ignores SIGTERM it has no handler for, its children do
  // not: plain kill changes nothing, kill -a ends the children, and the
  // init's `wait` returns.
  const fam = collect(
    cd.spawnCtr([
      "run",
      "--rm",
      ...tsshim(),
      image,
      "family",
      "sh",
      "-c",
      "sleep 1000 & sleep 1000 & echo ready; wait; echo children-gone",
    ]),
  );
  await waitFor("the family to start", () => fam.out() === "ready\n");
  const initPid = await taskPid("family");
  const children = (await taskPs("family")).map((r) => r.pid).filter((p) => p !== initPid);
  assert.equal(children.length, 2);
  assert.equal((await cd.ctr(["task", "kill", "-s", "SIGTERM", "family"])).code, 0);
  await sleep(300);
  assert.equal((await taskRow("family"))?.status, "RUNNING");
  assert.ok(children.every(alive), "a signal to the init alone leaves the children");
  const ka = await cd.ctr(["task", "kill", "-a", "-s", "SIGTERM", "family"]);
  assert.equal(ka.code, 0, ka.stderr);
  assert.equal(await fam.exit, 0, fam.err());
  assert.equal(fam.out(), "ready\nchildren-gone\n");
  assert.ok(!children.some(alive));

  // In the host's PID namespace nothing dies with the init: kill -a SIGKILL ends them all.
  const hostPidNs = ["--with-ns", `pid:/proc/${process.pid}/ns/pid`];
  const init = await runDetached("hostfam", ["sh", "-c", "sleep 1000 & sleep 1000 & wait"], hostPidNs);
  try {
    await waitFor("both children", async () => (await taskPs("hostfam")).length === 3);
    const all = (await taskPs("hostfam")).map((r) => r.pid);
    assert.ok(all.includes(init));
    const kk = await cd.ctr(["task", "kill", "-a", "-s", "SIGKILL", "hostfam"]);
    assert.equal(kk.code, 0, kk.stderr);
    const waited = await api.tasks.wait({ containerId: "hostfam" }, { timeoutMs: 10_000 });
    assert.equal(waited.exitStatus, 137);
    await waitFor("every process of the container to be gone", () => !all.some(alive), 5_000);
  } finally {
    await removeTask("hostfam");
  }
});

test("pause and resume: PAUSED stops the workload's counter, RUNNING lets it go on", async () => {
  const id = "counter";
  await runDetached(id, [
    "sh",
    "-c",
    "i=0; while true; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/count; sleep 0.02; done",
  ]);
  // The shim mounts the rootfs at <bundle>/rootfs, visible from the host.
  const countFile = join(
    cd.state,
    "io.containerd.runtime.v2.task",
    cd.namespace,
    id,
    "rootfs",
    "tmp",
    "count",
  );
  const count = (): number => Number(readFileSync(countFile, "utf8"));
  try {
    await waitFor("the counter", () => existsSync(countFile) && count() > 3);
    const p = await cd.ctr(["task", "pause", id]);
    assert.equal(p.code, 0, p.stderr);
    assert.equal((await taskRow(id))?.status, "PAUSED");
    const frozen = count();
    await sleep(500);
    assert.equal(count(), frozen, "the counter advanced while paused");
    assert.equal((await taskRow(id))?.status, "PAUSED");

    const r = await cd.ctr(["task", "resume", id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await taskRow(id))?.status, "RUNNING");
    await waitFor("the counter to move after resume", () => count() > frozen + 3);
  } finally {
    await removeTask(id);
  }
});

test("ctr task rm: a running task is refused with a clear error, a stopped one is removed", async () => {
  const id = "removable";
  await runDetached(id, ["sleep", "1000"]);
  try {
    const refused = await cd.ctr(["task", "rm", id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ctr: task must be stopped before deletion: running: failed precondition/);
    assert.equal((await taskRow(id))?.status, "RUNNING", "the refused rm left the task alone");

    assert.equal((await cd.ctr(["task", "kill", "-s", "SIGKILL", id])).code, 0);
    await waitForStatus(id, "STOPPED");
    const rm = await cd.ctr(["task", "rm", id]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stderr, new RegExp(`task ${id} exit with non-zero exit code 137`));
    assert.equal(await taskRow(id), undefined, "the task is gone from task ls");
    assert.equal((await cd.ctr(["container", "rm", id])).code, 0);
  } finally {
    if (await taskRow(id)) await removeTask(id);
  }
});

test("ctr task attach shows a running task's output, and detaching leaves it running", async () => {
  const id = "talker";
  await runDetached(id, ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done"]);
  try {
    const att = collect(cd.spawnCtr(["task", "attach", id]));
    // Lines keep arriving while we are attached.
    await waitFor("two ticks", () => (att.out().match(/tick-\d+\n/g) ?? []).length >= 2);
    const ticks = (att.out().match(/tick-(\d+)\n/g) ?? []).map((t) => Number(t.slice(5)));
    for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i], ticks[i - 1]! + 1, att.out());
    await waitFor("a later tick", () => att.out().includes(`tick-${ticks.at(-1)! + 3}\n`));
    // Detach by killing the attached ctr, as a closed terminal would.
    att.child.kill("SIGKILL");
    await att.exit;
    await sleep(300);
    assert.equal((await taskRow(id))?.status, "RUNNING", "the workload survives its reader going away");

    // A second attach picks the stream up again.
    const again = collect(cd.spawnCtr(["task", "attach", id]));
    await waitFor("ticks on the second attach", () => /tick-\d+\n/.test(again.out()));
    again.child.kill("SIGKILL");
    await again.exit;
  } finally {
    await removeTask(id);
  }
});

test("nothing is left behind", async () => {
  await assertNoLeaks(snapshot);
});
