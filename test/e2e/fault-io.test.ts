// Output faults: the shim's log FIFO loses its reader (containerd killed),
// a stdout FIFO loses its reader (the `ctr run` client killed -9 while the
// container keeps printing), and a `file://` log on a full filesystem (a
// 1 MiB tmpfs). In each the container keeps running, the shim keeps serving
// (exec works), and the error shows where it applies.
//
// stdout/stderr FIFOs and file:// logs are handed to the process itself (no
// copy in the shim), so a full disk is the workload's own ENOSPC, and a
// FIFO without a reader blocks the writer once the pipe buffer is full
// (the shim's held read end keeps it from EPIPE; nothing is discarded).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { processStat, sleep } from "../helpers/proc.js";

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

async function initPid(id: string): Promise<number> {
  const ls = await cd.ctr(["task", "ls"]);
  const pid = Number(ls.stdout.match(new RegExp(`^${id}\\s+(\\d+)`, "m"))?.[1]);
  assert.ok(pid > 0, `no pid for ${id}: ${ls.stdout}`);
  return pid;
}

async function taskStatus(id: string): Promise<string | undefined> {
  const ls = await cd.ctr(["task", "ls"]);
  return ls.stdout.match(new RegExp(`^${id}\\s+\\d+\\s+(\\S+)`, "m"))?.[1];
}

async function execWorks(id: string): Promise<void> {
  const r = await cd.ctr([
    "task",
    "exec",
    "--exec-id",
    `probe-${Date.now()}`,
    id,
    "sh",
    "-c",
    "echo serving",
  ]);
  assert.equal(r.stdout, "serving\n", `exec in ${id}: ${r.stderr}`);
  assert.equal(r.code, 0);
}

async function remove(id: string): Promise<void> {
  await cd.ctr(["task", "kill", "-s", "SIGKILL", id]);
  await cd.ctr(["task", "rm", "-f", id]);
  const rm = await cd.ctr(["container", "rm", id]);
  assert.equal(rm.code, 0, rm.stderr);
}

test("the shim's log FIFO reader gone (containerd killed): the shim keeps running and reporting", async () => {
  for (const [id, cmd] of [
    ["lf", "sleep 3600"],
    ["lf-exit", "sleep 1; exit 6"],
  ] as const) {
    const r = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, id, "sh", "-c", cmd]);
    assert.equal(r.code, 0, r.stderr);
  }
  const shims = [cd.shimDaemonPid("lf"), cd.shimDaemonPid("lf-exit")];
  await cd.kill9();
  // lf-exit exits now; its shim logs the exit and its failing publishes
  // into a log FIFO nobody reads.
  await sleep(4_000);
  for (const pid of shims)
    assert.ok(processStat(pid) !== undefined, `shim ${pid} died without its log reader`);
  await cd.restart();
  assert.equal(await taskStatus("lf"), "RUNNING");
  assert.equal(await taskStatus("lf-exit"), "STOPPED");
  await execWorks("lf");
  // The restarted containerd reads the shim's log again, including what the
  // shim wrote while nobody read it (kept in the FIFO): the exit, and the
  // first failed publish of it.
  const logged = readFileSync(cd.logPath, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes(`"shimPid":${shims[1]}`))
    .map((l) => JSON.parse(l) as { msg?: string; status?: number; topic?: string; retryInMs?: number });
  assert.ok(
    logged.some((l) => l.msg === "process exited" && l.status === 6),
    "the exit logged while containerd was down is in its log",
  );
  assert.ok(
    logged.some(
      (l) => l.msg === "publish event failed; retrying" && l.topic === "/tasks/exit" && l.retryInMs === 50,
    ),
    "the first failed publish of the exit is in containerd's log",
  );
  await remove("lf");
  await remove("lf-exit");
});

test("stdout FIFO reader gone (ctr run killed -9): the container keeps running, blocked on its full pipe", async () => {
  const ctr = cd.spawnCtr([
    "run",
    ...cd.runtimeFlags("tsshim"),
    image,
    "sf",
    "sh",
    "-c",
    "i=0; while :; do echo line-$i-0123456789abcdef; i=$((i+1)); done",
  ]);
  let got = 0;
  await new Promise<void>((resolve) => {
    ctr.stdout?.on("data", (b: Buffer) => {
      got += b.length;
      if (got > 100_000) resolve();
    });
  });
  ctr.kill("SIGKILL");
  await new Promise((r) => ctr.once("close", r));
  await sleep(2_000);
  const pid = await initPid("sf");
  assert.equal(await taskStatus("sf"), "RUNNING");
  const st = processStat(pid);
  assert.ok(st !== undefined && st.state !== "Z", `init ${pid} state ${st?.state}`);
  // Blocked in pipe_write, not spinning on EPIPE.
  const wchan = readFileSync(`/proc/${pid}/wchan`, "utf8");
  console.log(`fault-io: after ctr was killed the init sleeps in ${wchan} (state ${st.state})`);
  assert.equal(st.state, "S");
  await execWorks("sf");
  await remove("sf");
});

test("file:// log on a full 1 MiB tmpfs: the workload sees ENOSPC, keeps running, writes resume when space returns", async () => {
  const full = join(cd.dir, "full");
  mkdirSync(full);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tsshim-full", full]);
  try {
    const log = join(full, "out.log");
    const script =
      "i=0; while :; do if ! echo line-$i-0123456789abcdef0123456789abcdef; then : > /tmp/enospc; fi; i=$((i+1)); done";
    const r = await cd.ctr([
      "run",
      "-d",
      "--log-uri",
      `file://${log}`,
      ...cd.runtimeFlags("tsshim"),
      image,
      "df",
      "sh",
      "-c",
      script,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const pid = await initPid("df");
    const deadline = Date.now() + 20_000;
    while (!existsSync(`/proc/${pid}/root/tmp/enospc`)) {
      assert.ok(Date.now() < deadline, "the workload never saw a failed write");
      await sleep(100);
    }
    const size = statSync(log).size;
    console.log(`fault-io: file:// log full at ${size} bytes; the workload saw its writes fail`);
    assert.ok(size > 900_000 && size <= 1 << 20, `log size ${size}`);
    assert.equal(await taskStatus("df"), "RUNNING");
    await execWorks("df");
    // Space back: the same fd writes again (O_APPEND: at the new end).
    truncateSync(log, 0);
    await sleep(500);
    const text = readFileSync(log, "utf8");
    assert.ok(text.length > 0, "no write after the space came back");
    assert.match(text.split("\n").at(-2) ?? "", /^line-\d+-0123/);
    await remove("df");
  } finally {
    execFileSync("umount", [full]);
  }
  await assertNoLeaks(snapshot, 10_000);
});
