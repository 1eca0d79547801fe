// A workload that double-forks 1,000 orphans: none may stay a zombie. In its
// own PID namespace the orphans go to the container's init; in the host's
// PID namespace (`ctr run --with-ns pid:…`) they are reparented to the shim,
// its nearest child subreaper, which must reap every one.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
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
  await cd?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
}

function procStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ pid: Number(name), state: rest[0]!, ppid: Number(rest[1]) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The tsshim daemon serving container `id` of this containerd. */
function shimPidOf(id: string): number {
  const found: number[] = [];
  for (const { pid } of procStats()) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const at = argv.indexOf("-id");
    if (isShimOf(argv, cd.address) && at >= 0 && argv[at + 1] === id && !argv.includes("start"))
      found.push(pid);
  }
  assert.equal(found.length, 1, `shim daemons for ${id}: ${found.join(", ")}`);
  return found[0]!;
}

/** Zombies whose parent is one of `parents`. */
function zombiesOf(parents: ReadonlySet<number>): ProcStat[] {
  return procStats().filter((p) => p.state === "Z" && parents.has(p.ppid));
}

// Each orphan's parent subshell exits at once; the orphan sleeps a little,
// then exits. The init then stays a shell waiting on short sleeps (a last
// plain `sleep 1000` would be exec'd by busybox sh, and sleep reaps nothing),
// so in its own PID namespace the init reaps what is reparented to it.
const ORPHANS = "for i in $(seq 1000); do (sleep 0.2 &); done; echo spawned; while :; do sleep 0.1; done";

async function runOrphans(id: string, extra: string[]): Promise<void> {
  const r = await cd.ctr([
    "run",
    "-d",
    ...extra,
    ...cd.runtimeFlags("tsshim"),
    image,
    id,
    "sh",
    "-c",
    ORPHANS,
  ]);
  assert.equal(r.code, 0, r.stderr);
  try {
    await checkOrphans(id, extra.length > 0);
  } finally {
    // also after a failure: the next test and the leak check start clean
    const left = await cd.ctr(["container", "ls", "-q"]);
    if (left.stdout.split("\n").includes(id)) {
      await cd.ctr(["task", "kill", "-a", "-s", "SIGKILL", id]);
      await cd.ctr(["task", "rm", "-f", id]);
      await cd.ctr(["container", "rm", id]);
    }
  }
}

async function checkOrphans(id: string, hostPidNs: boolean): Promise<void> {
  const ls = await cd.ctr(["task", "ls"]);
  const initPid = Number(ls.stdout.match(new RegExp(`^${id}\\s+(\\d+)`, "m"))?.[1]);
  const shim = shimPidOf(id);
  const parents = new Set([shim, initPid]);
  let seenOrphanOfShim = false;
  // Wait until the loop is done and every orphan has exited (ps shows init and its sleep only).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const stats = procStats();
    if (stats.some((p) => p.ppid === shim && p.pid !== initPid)) seenOrphanOfShim = true;
    const ps = await cd.ctr(["task", "ps", id]);
    const rows = ps.stdout.trim().split("\n").length - 1;
    // the init and at most one of its short sleeps
    if (rows <= 2 && zombiesOf(parents).length === 0) break;
    if (Date.now() > deadline)
      assert.fail(`after 30 s: ${rows} processes in the container, ${zombiesOf(parents).length} zombies`);
    await sleep(100);
  }
  // Give the reaper a moment after the last exit, then look for zombies.
  await sleep(300);
  assert.deepEqual(zombiesOf(parents), [], "zombies left with the shim or the init as parent");
  if (hostPidNs) {
    // In the host PID namespace the orphans really were the shim's to reap.
    assert.ok(seenOrphanOfShim, "no orphan was ever reparented to the shim");
  }
  const kill = await cd.ctr(["task", "kill", "-a", "-s", "SIGKILL", id]);
  assert.equal(kill.code, 0, kill.stderr);
  const deadline2 = Date.now() + 10_000;
  while (!/STOPPED/.test((await cd.ctr(["task", "ls"])).stdout) && Date.now() < deadline2) await sleep(50);
  assert.equal((await cd.ctr(["task", "rm", id])).code, 0);
  assert.equal((await cd.ctr(["container", "rm", id])).code, 0);
  assert.deepEqual(zombiesOf(new Set([shim])), []);
}

test("1,000 orphans in the container's own PID namespace leave no zombie", async () => {
  await runOrphans("orphans-ns", []);
});

test("1,000 orphans in the host PID namespace are reaped by the shim (subreaper)", async () => {
  await runOrphans("orphans-host", ["--with-ns", `pid:/proc/${process.pid}/ns/pid`]);
});

test("nothing is left behind", async () => {
  await assertNoLeaks(snapshot);
});
