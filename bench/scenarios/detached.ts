// Scenario "detached": `ctr run -d … sleep 3600` until Tasks.Get reports
// RUNNING, then delete: `ctr task rm -f` (SIGKILL, wait, delete) and
// `ctr containers rm`.
import type { BenchContext } from "../context.js";
import { ctrOk, removeContainer, runDetached, since, waitAllRunning } from "../ops.js";
import type { Scenario } from "../scenario.js";

export function detachedScenario(ctx: BenchContext): Scenario {
  const { cd } = ctx;
  return {
    name: "detached",
    title: "Detached start to RUNNING, and delete",
    metrics: [
      { id: "start", label: "ctr run -d → RUNNING", unit: "ms", better: "lower" },
      { id: "delete", label: "ctr task rm -f + ctr rm", unit: "ms", better: "lower" },
    ],
    runs: ctx.sizes.detachedRuns,
    warmup: ctx.sizes.warmup,
    async sample(rt) {
      const id = ctx.nextId("detached", rt);
      let start: number;
      let del: number;
      try {
        const t0 = performance.now();
        await runDetached(ctx, rt, id, ["sleep", "3600"]);
        await waitAllRunning(ctx.api, [id], 10_000);
        start = since(t0);
        const t1 = performance.now();
        await ctrOk(cd, ["task", "rm", "-f", id]);
        await ctrOk(cd, ["containers", "rm", id]);
        del = since(t1);
      } catch (err) {
        await removeContainer(cd, id).catch(() => undefined);
        throw err;
      }
      return { values: { start, delete: del } };
    },
  };
}
