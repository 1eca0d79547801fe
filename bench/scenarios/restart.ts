// Scenario "restart": N running containers, containerd killed with SIGKILL
// (the shims and containers live on), containerd started again on the same
// dirs; the time from that start until `ctr task ls` lists all N RUNNING.
// `ctr task ls` runs as soon as containerd's socket accepts (tried every
// millisecond): containerd listens only after reconnecting to every shim, so
// that reload is measured, not hidden behind a coarser readiness poll.
import { sleep } from "../../test/helpers/proc.js";
import type { BenchContext } from "../context.js";
import { mapLimit, removeAll, runDetached, since, waitAllRunning, waitShimsGone } from "../ops.js";
import type { Scenario } from "../scenario.js";
import { shimPids } from "../shims.js";

/** `ctr task ls` rows: TASK PID STATUS. */
export function parseTaskList(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 3) out.set(f[0], f[2]);
  }
  return out;
}

export function restartScenario(ctx: BenchContext): Scenario {
  const count = ctx.sizes.restartContainers;
  return {
    name: "restart",
    title: `containerd restart (kill -9) with ${count} running containers`,
    metrics: [
      { id: "recover", label: `restart → ctr task ls lists ${count} RUNNING`, unit: "ms", better: "lower" },
    ],
    runs: ctx.sizes.restartRuns,
    warmup: 0,
    async sample(rt) {
      const { cd } = ctx;
      const before = new Set(shimPids(cd.address));
      const ids = Array.from({ length: count }, () => ctx.nextId("restart", rt));
      try {
        await mapLimit(ids, 4, (id) => runDetached(ctx, rt, id, ["sleep", "3600"]));
        await waitAllRunning(ctx.api, ids, 30_000);
        await cd.kill9();
        const t0 = performance.now();
        await cd.restart("listening");
        const deadline = Date.now() + 60_000;
        let last = new Map<string, string>();
        for (;;) {
          const r = await cd.ctr(["task", "ls"], { timeoutMs: 10_000 });
          if (r.code === 0) {
            last = parseTaskList(r.stdout);
            if (ids.every((id) => last.get(id) === "RUNNING")) break;
          }
          if (Date.now() > deadline) {
            const bad = ids.filter((id) => last.get(id) !== "RUNNING");
            throw new Error(
              `after restart ${bad.length} of ${count} tasks not RUNNING: ${bad.slice(0, 5).join(", ")}`,
            );
          }
          await sleep(2);
        }
        return { values: { recover: since(t0) } };
      } finally {
        if (!cd.running) await cd.restart();
        await removeAll(cd, ids);
        await waitShimsGone(cd, before);
      }
    },
  };
}
