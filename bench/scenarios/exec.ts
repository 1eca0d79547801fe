// Scenario "exec": `ctr task exec --exec-id eN ID /bin/true` into one
// long-running container per runtime.
import type { RuntimeName } from "../../test/helpers/containerd.js";
import type { BenchContext } from "../context.js";
import { ctrOk, removeContainer, runDetached, since, waitAllRunning } from "../ops.js";
import type { Scenario } from "../scenario.js";

export function execScenario(ctx: BenchContext): Scenario {
  const { cd } = ctx;
  const targets = new Map<RuntimeName, string>();
  let execs = 0;
  return {
    name: "exec",
    title: "Exec latency (/bin/true in a running container)",
    metrics: [{ id: "exec", label: "ctr task exec /bin/true", unit: "ms", better: "lower" }],
    runs: ctx.sizes.execRuns,
    warmup: ctx.sizes.warmup,
    async setup(rt) {
      const id = ctx.nextId("exec", rt);
      targets.set(rt, id);
      try {
        await runDetached(ctx, rt, id, ["sleep", "3600"]);
        await waitAllRunning(ctx.api, [id], 10_000);
      } catch (err) {
        await removeContainer(cd, id).catch(() => undefined);
        throw err;
      }
    },
    async sample(rt) {
      const id = targets.get(rt)!;
      const execId = `e${++execs}`;
      const t0 = performance.now();
      await ctrOk(cd, ["task", "exec", "--exec-id", execId, id, "/bin/true"]);
      return { values: { exec: since(t0) } };
    },
    async teardown(rt) {
      const id = targets.get(rt);
      if (id !== undefined) await removeContainer(cd, id);
    },
  };
}
