// 1,000 sequential execs in one container through the Tasks API (Exec →
// Start → Wait → DeleteProcess, stdio to nothing), a few more through `ctr
// task exec`: every exit status exact, no zombie, no fd growth in the shim,
// and the shim's RSS flat after warm-up (measured at 100, 500 and 1,000).
// TSSHIM_LOAD_EXECS raises the count for the soak run.
//
// RSS is read twice at each checkpoint: under load (right after an exec) and
// settled (after 1.5 s without a Task API call, when the daemon's idle
// compaction, src/shim/memory.ts, has run a full GC and malloc_trim). Under
// load V8 lets garbage pile up in a growing old space (10,000 execs: heapTotal
// 8 -> 25 MB, RSS +17 MB, all of it gone after one full GC: heapUsed 8.4 MB,
// docs/reliability.md); only the settled figure tells retained memory.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { packJsonAny, specTypeUrls } from "../../src/api/typeurl.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { containerdClient } from "../helpers/grpc.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { listPids, processStat, sleep } from "../helpers/proc.js";

const EXECS = Number(process.env.TSSHIM_LOAD_EXECS ?? 1_000);

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

/** Resident set of a process, in KiB. */
function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return Number(m?.[1]);
}

/** utime + stime of a process, in seconds (USER_HZ = 100 on Linux). */
function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Idle time before the settled RSS reading: the daemon compacts after 500 ms idle. */
const SETTLE_MS = 1_500;

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

function zombieChildren(pid: number): number[] {
  return listPids().filter((p) => {
    const st = processStat(p);
    return st?.ppid === pid && st.state === "Z";
  });
}

test(`${EXECS} sequential execs in one container: exact statuses, flat RSS, no fd growth`, {
  timeout: 60_000 + EXECS * 100,
}, async () => {
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, "ex", "sleep", "3600"]);
  assert.equal(run.code, 0, run.stderr);
  const shim = cd.shimDaemonPid("ex");
  const client = containerdClient(cd.address, cd.namespace);
  const rss = new Map<number, number>();
  const settled = new Map<number, number>();
  let fdsAfterWarmup = 0;
  const cpu0 = cpuSeconds(shim);
  const t0 = Date.now();
  let pausedMs = 0;
  try {
    for (let i = 1; i <= EXECS; i++) {
      const execId = `e${i}`;
      const code = i % 200;
      const spec = packJsonAny(specTypeUrls.process, {
        args: ["sh", "-c", `exit ${code}`],
        cwd: "/",
        env: ["PATH=/bin"],
        user: { uid: 0, gid: 0 },
      });
      await client.tasks.exec({ containerId: "ex", execId, spec });
      const waited = client.tasks.wait({ containerId: "ex", execId });
      await client.tasks.start({ containerId: "ex", execId });
      const w = await waited;
      assert.equal(w.exitStatus, code, `exec ${i}`);
      await client.tasks.deleteProcess({ containerId: "ex", execId });
      if (i === 20) fdsAfterWarmup = fdCount(shim);
      if (i === 100 || i === 500 || i % 1_000 === 0) {
        rss.set(i, rssKiB(shim));
        const p0 = Date.now();
        await sleep(SETTLE_MS);
        pausedMs += Date.now() - p0;
        settled.set(i, rssKiB(shim));
      }
    }
  } finally {
    client.close();
  }
  const execMs = Date.now() - t0 - pausedMs;
  // A few through ctr, with their output.
  for (let i = 0; i < 5; i++) {
    const r = await cd.ctr([
      "task",
      "exec",
      "--exec-id",
      `ctr${i}`,
      "ex",
      "sh",
      "-c",
      `echo out${i}; exit ${i}`,
    ]);
    assert.equal(r.stdout, `out${i}\n`);
    assert.equal(r.code, i);
  }
  const fdsEnd = fdCount(shim);
  const cpu = cpuSeconds(shim) - cpu0;
  const rss100 = settled.get(100)!;
  const rssEnd = settled.get(EXECS) ?? rssKiB(shim);
  const list = (m: Map<number, number>): string => [...m].map(([n, k]) => `@${n}=${k}`).join(" ");
  console.log(
    `load-exec: ${EXECS} execs in ${execMs} ms (${(execMs / EXECS).toFixed(1)} ms each); ` +
      `shim CPU ${cpu.toFixed(2)} s; settled RSS KiB ${list(settled)}; under load ${list(rss)}; shim fds ${fdsAfterWarmup} -> ${fdsEnd}`,
  );
  assert.deepEqual(zombieChildren(shim), [], "zombies of the shim");
  assert.ok(fdsEnd <= fdsAfterWarmup, `shim fds grew: ${fdsAfterWarmup} -> ${fdsEnd}`);
  // Settled, past warm-up (JIT): a leak of 1 KiB per exec would add ~900 KiB
  // (1.5 %) over 900 execs and ~9.9 MiB (16 %) over 10,000.
  assert.ok(rssEnd < rss100 * 1.1, `shim settled RSS grew from ${rss100} KiB to ${rssEnd} KiB`);

  assert.equal((await cd.ctr(["task", "kill", "-s", "SIGKILL", "ex"])).code, 0);
  assert.equal((await cd.ctr(["task", "rm", "-f", "ex"])).code, 0);
  assert.equal((await cd.ctr(["container", "rm", "ex"])).code, 0);
  await assertNoLeaks(snapshot);
});
