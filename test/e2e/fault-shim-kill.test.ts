// kill -9 a shim at random points of create, start and exec: containerd
// notices the dropped connection, runs `containerd-shim-tsshim-v2 delete`,
// and after the user's `ctr task rm` / `ctr container rm` nothing of the
// container is left (no process, shim, mount, cgroup, socket, bundle dir).
// Delays are drawn from TSSHIM_FAULT_SEED (printed) so a failure replays.
// Every other create/start round kills within 5 ms of the daemon appearing,
// and a third test does so with the Node start verb: mostly before
// containerd's dial, where containerd runs no delete verb at all and only the
// socket guard (src/shim/socket-guard.ts) removes the socket.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Containerd, isShimOf, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { prng } from "../helpers/prng.js";
import { listPids, processCmdline, processStat, sleep } from "../helpers/proc.js";

const SEED = Number(process.env.TSSHIM_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env.TSSHIM_SHIM_KILL_ROUNDS ?? 30);

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

/** The shim daemon of `id` (not the short-lived `start` verb), once it exists. */
async function shimPid(id: string, timeoutMs = 10_000): Promise<number> {
  const isShim = (pid: number): boolean => {
    const argv = processCmdline(pid);
    if (argv === undefined || !isShimOf(argv, cd.address) || argv.includes("start")) return false;
    if (["Z", "X"].includes(processStat(pid)?.state ?? "X")) return false; // killed, not yet reaped
    return argv[argv.indexOf("-id") + 1] === id;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const pid of listPids()) {
      if (!isShim(pid)) continue;
      // A child the daemon forks (a container's init before execve, a helper
      // before its exec) briefly carries the daemon's title: take the parent.
      const ppid = processStat(pid)?.ppid;
      return ppid !== undefined && isShim(ppid) ? ppid : pid;
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

/** start's socket guards exit within 5 s (leaks.ts does not see them: cwd /, no shim argv). */
async function noGuardLeft(): Promise<void> {
  const guards = (): number[] =>
    listPids().filter((pid) => {
      const argv = processCmdline(pid);
      return argv?.includes("tsshim-socket-guard") === true && argv.some((a) => a.startsWith(cd.dir));
    });
  const deadline = Date.now() + 6_000;
  while (guards().length > 0 && Date.now() < deadline) await sleep(100);
  assert.deepEqual(guards(), [], "socket guards still running");
}

/** Kills the shim of `ctr run -d` `delay(i)` ms after it appears, then checks the cleanup. */
async function createStartRounds(
  prefix: string,
  rounds: number,
  delayOf: (i: number) => number,
): Promise<string> {
  let refused = 0;
  let retried = 0;
  for (let i = 0; i < rounds; i++) {
    const id = `${prefix}-${i}`;
    const delay = delayOf(i);
    const run = cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, id, "sleep", "3600"]);
    const pid = await shimPid(id);
    await sleep(delay);
    process.kill(pid, "SIGKILL");
    const r = await run;
    // "connection refused": the daemon died before containerd's dial (no delete verb ran).
    const dialRefused = r.stderr.includes("connection refused");
    if (dialRefused) refused++;
    // A spare killed before it answered the launcher: the launcher falls back
    // to the Node verb, the container runs under a new shim, and the user
    // stops it (its cleanup is then the ordinary path).
    // Otherwise a `ctr run -d` that succeeded was simply faster than the kill.
    let note = dialRefused ? " (dial refused)" : "";
    const gone = Date.now() + 2_000;
    while (!["Z", "X", undefined].includes(processStat(pid)?.state) && Date.now() < gone) await sleep(5);
    const live = r.code === 0 ? await shimPid(id, 500).catch(() => undefined) : undefined;
    if (live !== undefined) {
      assert.notEqual(live, pid, `round ${i}: the killed shim still runs`);
      retried++;
      note = ` (start retried: shim ${live})`;
      await cd.ctr(["task", "kill", "-s", "SIGKILL", id]);
    }
    console.log(`  round ${i}: shim killed ${delay} ms after it appeared; ctr run exit ${r.code}${note}`);
    await cleanupAndCheck(id, `create/start round ${i}, delay ${delay} ms`);
  }
  await noGuardLeft();
  return `${rounds} kills (${refused} before containerd's dial, ${retried} before the launcher's answer: start retried)`;
}

test(`kill -9 the shim at random points of create/start (${ROUNDS} rounds)`, {
  timeout: 100_000,
}, async () => {
  const rand = prng(SEED);
  const figures = await createStartRounds("sk-run", ROUNDS, (i) =>
    Math.floor(rand() * (i % 2 === 0 ? 5 : 400)),
  );
  console.log(`fault-shim-kill: create/start ${figures}`);
});

// Without the launcher (TSSHIM_SPARE=0, or a checkout without it built) the
// Node verb spawns the daemon and exits: a kill in its first ms mostly lands
// before containerd's dial, the window only the socket guard covers.
test(`kill -9 the shim within 5 ms of its spawn by the Node start verb (${Math.ceil(ROUNDS / 2)} rounds)`, {
  timeout: 100_000,
}, async () => {
  const saved = { cd, image, snapshot };
  cd = await startContainerd({ env: { TSSHIM_SPARE: "0" } });
  try {
    image = await importBusyboxImage(cd);
    snapshot = takeLeakSnapshot(cd);
    const rand = prng(SEED + 2);
    const figures = await createStartRounds("sk-node", Math.ceil(ROUNDS / 2), () => Math.floor(rand() * 5));
    console.log(`fault-shim-kill: Node start verb ${figures}`);
  } finally {
    await cd.stop();
    ({ cd, image, snapshot } = saved);
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
  await noGuardLeft();
  console.log(`fault-shim-kill: exec ${ROUNDS} kills`);
});
