// 100 containers through their whole lifecycle (`ctr run --rm`: create,
// start, output, exit, delete), all at once: each prints its own line and
// exits with its own status, and nothing is left behind. The wall time and
// the rate are printed (100 at once: ~12 s on 2 CPUs, as fast as 25 at a
// time since the launcher's spares). TSSHIM_LOAD_CONTAINERS /
// TSSHIM_LOAD_CONCURRENCY change the figures for the soak run.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";

const COUNT = Number(process.env.TSSHIM_LOAD_CONTAINERS ?? 100);
const CONCURRENCY = Number(process.env.TSSHIM_LOAD_CONCURRENCY ?? 100);

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

test(`${COUNT} containers through their lifecycle, ${CONCURRENCY} at a time`, {
  timeout: 20_000 + COUNT * 900,
}, async () => {
  const t0 = Date.now();
  const failures: string[] = [];
  let next = 0;
  const lanes = Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const i = next++;
      if (i >= COUNT) return;
      const id = `c${i}`;
      const r = await cd.ctr(
        [
          "run",
          "--rm",
          ...cd.runtimeFlags("tsshim"),
          image,
          id,
          "sh",
          "-c",
          `echo hello-${i}; exit ${i % 100}`,
        ],
        { timeoutMs: 90_000 },
      );
      if (r.stdout !== `hello-${i}\n` || r.code !== i % 100)
        failures.push(`${id}: code ${r.code} stdout ${JSON.stringify(r.stdout)} stderr ${r.stderr.trim()}`);
    }
  });
  await Promise.all(lanes);
  const ms = Date.now() - t0;
  console.log(
    `load-containers: ${COUNT} containers, ${CONCURRENCY} at a time, in ${ms} ms (${((COUNT * 1000) / ms).toFixed(1)}/s)`,
  );
  assert.deepEqual(failures, []);
  const ls = await cd.ctr(["container", "ls", "-q"]);
  assert.equal(ls.stdout.trim(), "");
  await assertNoLeaks(snapshot, 10_000);
});
