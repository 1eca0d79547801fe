// Scenario "restart": N running containers, containerd killed with SIGKILL
// (the shims and containers live on), containerd started again on the same
// dirs; the time from that start until `ctr task ls` lists all N RUNNING.
// `ctr task ls` runs as soon as containerd's socket accepts (tried every
// millisecond): containerd listens only after reconnecting to every shim, so
// that reload is measured, not hidden behind a coarser readiness poll.
import { readFileSync } from "node:fs";
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

/** A containerd log line's time in ms since the epoch, to the microsecond (its stamp has ns). */
function logTime(line: string): number | undefined {
  const m = line.match(/time="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)"/);
  if (m === null) return undefined;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  return Number.isNaN(whole) ? undefined : whole + Number(m[2] ?? 0) * 1000;
}

/**
 * containerd's own account of reloading its shims after a restart: from loading the
 * runtime v2 task plugin (which dials every shim and asks Connect) to loading the next
 * plugin, in its log. The part of a restart that depends on the shims.
 */
export function taskPluginReloadMs(log: string): number | undefined {
  const lines = log.split("\n");
  const at = lines.findIndex((l) => l.includes('loading plugin \\"io.containerd.runtime.v2.task\\"'));
  if (at < 0) return undefined;
  const next = lines.slice(at + 1).find((l) => l.includes("loading plugin"));
  const start = logTime(lines[at]!);
  const end = next === undefined ? undefined : logTime(next);
  return start === undefined || end === undefined ? undefined : end - start;
}

export function restartScenario(ctx: BenchContext): Scenario {
  const count = ctx.sizes.restartContainers;
  return {
    name: "restart",
    title: `containerd restart (kill -9) with ${count} running containers`,
    metrics: [
      { id: "recover", label: `restart → ctr task ls lists ${count} RUNNING`, unit: "ms", better: "lower" },
      { id: "reload", label: `containerd reloads the ${count} shims (its log)`, unit: "ms", better: "lower" },
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
        const logFrom = readFileSync(cd.logPath).length;
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
        const recover = since(t0);
        const reload = taskPluginReloadMs(readFileSync(cd.logPath).subarray(logFrom).toString("utf8"));
        if (reload === undefined)
          throw new Error("containerd's log has no task plugin load after the restart");
        return { values: { recover, reload } };
      } finally {
        if (!cd.running) await cd.restart();
        await removeAll(cd, ids);
        await waitShimsGone(cd, before);
      }
    },
  };
}
