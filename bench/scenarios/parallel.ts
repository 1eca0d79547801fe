// Scenario "parallel": N `ctr run -d` at once; the time until Tasks.List
// shows all N RUNNING.
import type { BenchContext } from "../context.js";
import { removeAll, runDetached, since, waitAllRunning, waitShimsGone } from "../ops.js";
import type { Scenario } from "../scenario.js";
import { shimPids } from "../shims.js";

export function parallelScenario(ctx: BenchContext): Scenario {
  const count = ctx.sizes.parallelCount;
  return {
    name: "parallel",
    title: `${count} containers started in parallel, until all RUNNING`,
    metrics: [
      { id: "all", label: `${count} parallel ctr run -d → all RUNNING`, unit: "ms", better: "lower" },
    ],
    runs: ctx.sizes.parallelRuns,
    warmup: 0,
    async sample(rt) {
      const { cd } = ctx;
      const before = new Set(shimPids(cd.address));
      const ids = Array.from({ length: count }, () => ctx.nextId("par", rt));
      try {
        const t0 = performance.now();
        await Promise.all(ids.map((id) => runDetached(ctx, rt, id, ["sleep", "3600"])));
        await waitAllRunning(ctx.api, ids, 60_000, 20);
        return { values: { all: since(t0) } };
      } finally {
        await removeAll(cd, ids);
        await waitShimsGone(cd, before);
      }
    },
  };
}
