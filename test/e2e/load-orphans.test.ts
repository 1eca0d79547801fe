// A container in the host PID namespace whose init double-forks 10,000
// short-lived orphans: each is reparented to the shim (its nearest child
// subreaper), which must reap every one. Afterwards no zombie has the shim
// as parent, the shim's fd count is what it was, and its CPU time is shown.
// TSSHIM_LOAD_ORPHANS changes the count (the soak run uses more).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { listPids, processStat, sleep } from "../helpers/proc.js";

const ORPHANS = Number(process.env.TSSHIM_LOAD_ORPHANS ?? 10_000);

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

function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

function childrenOf(pid: number): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
  for (const p of listPids()) {
    const st = processStat(p);
    if (st?.ppid === pid) out.push({ pid: p, state: st.state });
  }
  return out;
}

test(`${ORPHANS} orphans reparented to the shim: all reaped, no fd growth`, {
  timeout: 60_000 + ORPHANS * 10,
}, async () => {
  // The init loops until every orphan is made, leaves a mark, then stays a
  // shell on short sleeps; each orphan's parent subshell exits at once.
  const script = `for i in $(seq ${ORPHANS}); do (sleep 0.05 &); done; touch /tmp/spawned; while :; do sleep 0.1; done`;
  const run = await cd.ctr([
    "run",
    "-d",
    "--with-ns",
    `pid:/proc/${process.pid}/ns/pid`,
    ...cd.runtimeFlags("tsshim"),
    image,
    "orph",
    "sh",
    "-c",
    script,
  ]);
  assert.equal(run.code, 0, run.stderr);
  try {
    const ls = await cd.ctr(["task", "ls"]);
    const init = Number(ls.stdout.match(/^orph\s+(\d+)/m)?.[1]);
    const shim = cd.shimDaemonPid("orph");
    const fds0 = fdCount(shim);
    const cpu0 = cpuSeconds(shim);
    const t0 = Date.now();
    let maxOrphans = 0;
    while (!existsSync(`/proc/${init}/root/tmp/spawned`)) {
      maxOrphans = Math.max(maxOrphans, childrenOf(shim).length - 1);
      assert.ok(Date.now() - t0 < ORPHANS * 10, "the workload did not finish spawning");
      await sleep(200);
    }
    const spawnMs = Date.now() - t0;
    // Every orphan lives 50 ms; then only the init is the shim's child.
    const deadline = Date.now() + 20_000;
    let kids = childrenOf(shim);
    while (kids.some((k) => k.pid !== init) && Date.now() < deadline) {
      await sleep(100);
      kids = childrenOf(shim);
    }
    assert.deepEqual(
      kids.filter((k) => k.pid !== init),
      [],
      "children (zombies or live orphans) of the shim left",
    );
    const cpu = cpuSeconds(shim) - cpu0;
    const fds1 = fdCount(shim);
    console.log(
      `load-orphans: ${ORPHANS} orphans in ${spawnMs} ms (up to ${maxOrphans} at once seen with the shim); ` +
        `shim CPU ${cpu.toFixed(2)} s; shim fds ${fds0} -> ${fds1}`,
    );
    assert.ok(maxOrphans > 0, "no orphan was ever reparented to the shim");
    assert.ok(fds1 <= fds0, `shim fds grew: ${fds0} -> ${fds1}`);
    // The shim still serves.
    const exec = await cd.ctr(["task", "exec", "--exec-id", "after", "orph", "sh", "-c", "echo ok"]);
    assert.equal(exec.stdout, "ok\n");
  } finally {
    await cd.ctr(["task", "kill", "-a", "-s", "SIGKILL", "orph"]);
    await cd.ctr(["task", "rm", "-f", "orph"]);
    await cd.ctr(["container", "rm", "orph"]);
  }
  await assertNoLeaks(snapshot);
});
