// kill -9 a shim at random points of create, start and exec: containerd
// notices the dropped connection, runs `containerd-shim-tsshim-v2 delete`,
// and after the user's `ctr task rm` / `ctr container rm` nothing of the
// container is left (no process, shim, mount, cgroup, socket, bundle dir).
// Delays are drawn from TSSHIM_FAULT_SEED (printed) so a failure replays.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Containerd, isShimOf, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { listPids, processCmdline, sleep } from "../helpers/proc.js";

const SEED = Number(process.env.TSSHIM_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env.TSSHIM_SHIM_KILL_ROUNDS ?? 5);

let cd: Containerd;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  console.log(`fault-shim-kill: TSSHIM_FAULT_SEED=${SEED}`);
  cd = await startContainerd();
  image = await importBusyboxImage(cd);
  snapshot = takeLeakSnapshot(cd);
});

after(async () => {
  if (existsSync(cd.dir)) await cd.stop();
});

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The shim daemon of `id` (not the short-lived `start` verb), once it exists. */
async function shimPid(id: string, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const pid of listPids()) {
      const argv = processCmdline(pid);
      if (argv === undefined || !isShimOf(argv, cd.address) || argv.includes("start")) continue;
      if (argv[argv.indexOf("-id") + 1] === id) return pid;
    }
    if (Date.now() > deadline) throw new Error(`no shim for ${id}`);
    await sleep(5);
  }
}

async function cleanupAndCheck(id: string, what: string): Promise<void> {
  // containerd's delete path runs once it sees the shim gone; ctr task rm
  // is what a user does next (the task may already be gone).
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ls = await cd.ctr(["task", "ls"]);
    const row = ls.stdout.match(new RegExp(`^${id}\\s+\\d+\\s+(\\S+)`, "m"));
    if (row === null || row[1] !== "RUNNING") break;
    assert.ok(Date.now() < deadline, `${what}: task still RUNNING 15 s after its shim died`);
    await sleep(100);
  }
  await cd.ctr(["task", "rm", "-f", id]);
  const rm = await cd.ctr(["container", "rm", id]);
  assert.equal(rm.code, 0, `${what}: container rm: ${rm.stderr}`);
  const bundles = join(cd.state, "io.containerd.runtime.v2.task", cd.namespace);
  // containerd removes the bundle in its own time after the delete verb.
  const settle = Date.now() + 10_000;
  while (existsSync(bundles) && readdirSync(bundles).length > 0 && Date.now() < settle) await sleep(100);
  assert.deepEqual(existsSync(bundles) ? readdirSync(bundles) : [], [], `${what}: bundle dir left`);
  await assertNoLeaks(snapshot, 10_000).catch((err: unknown) => {
    throw new Error(`${what} (seed ${SEED}): ${String(err)}`);
  });
}

test(`kill -9 the shim at random points of create/start (${ROUNDS} rounds)`, {
  timeout: 100_000,
}, async () => {
  const rand = prng(SEED);
  for (let i = 0; i < ROUNDS; i++) {
    const id = `sk-run-${i}`;
    const delay = Math.floor(rand() * 400);
    const run = cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, id, "sleep", "3600"]);
    const pid = await shimPid(id);
    await sleep(delay);
    process.kill(pid, "SIGKILL");
    const r = await run;
    console.log(`  round ${i}: shim killed ${delay} ms after it appeared; ctr run exit ${r.code}`);
    await cleanupAndCheck(id, `create/start round ${i}, delay ${delay} ms`);
  }
});

test(`kill -9 the shim at random points of exec (${ROUNDS} rounds)`, { timeout: 100_000 }, async () => {
  const rand = prng(SEED + 1);
  for (let i = 0; i < ROUNDS; i++) {
    const id = `sk-exec-${i}`;
    const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, id, "sleep", "3600"]);
    assert.equal(run.code, 0, run.stderr);
    const pid = await shimPid(id);
    const delay = Math.floor(rand() * 150);
    const exec = cd.ctr(["task", "exec", "--exec-id", "x", id, "sh", "-c", "sleep 0.1; echo done"]);
    await sleep(delay);
    process.kill(pid, "SIGKILL");
    const r = await exec;
    console.log(`  round ${i}: shim killed ${delay} ms into exec; ctr exec exit ${r.code}`);
    await cleanupAndCheck(id, `exec round ${i}, delay ${delay} ms`);
  }
});
