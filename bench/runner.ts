// Runs one scenario for every runtime, interleaved run by run (A B C A B C …)
// so that drift (page cache, CPU frequency, containerd's own growth) hits all
// runtimes alike. A runtime that fails twice is dropped from the scenario with
// its error; the others go on.
import { existsSync, unlinkSync } from "node:fs";
import type { RuntimeName } from "../test/helpers/containerd.js";
import type { BenchContext } from "./context.js";
import { errorText, purgeNamespace, waitShimsGone } from "./ops.js";
import type { RuntimeOutcome, Scenario, ScenarioResult } from "./scenario.js";
import { shimPids, shimSocketPath } from "./shims.js";

const MAX_FAILURES = 2;

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

/**
 * Shim sockets still in /run/containerd/s for the scenario's containers once
 * they are all deleted and their shims gone: a shim that did not clean up.
 * Removes them (they are provably this containerd's) and names them per runtime.
 */
function removeLeftSockets(ctx: BenchContext, created: readonly [string, RuntimeName][]): string[] {
  const left = new Map<RuntimeName, number>();
  for (const [id, rt] of created) {
    const path = shimSocketPath(ctx.cd.address, ctx.cd.namespace, id);
    if (!existsSync(path)) continue;
    left.set(rt, (left.get(rt) ?? 0) + 1);
    try {
      unlinkSync(path);
    } catch {
      // reported above anyway
    }
  }
  return [...left].map(([rt, n]) => `${rt}: ${n}`);
}

export async function runScenario(ctx: BenchContext, scenario: Scenario): Promise<ScenarioResult> {
  const t0 = performance.now();
  const shimsBefore = new Set(shimPids(ctx.cd.address));
  const idsBefore = ctx.created.size;
  const outcomes: Partial<Record<RuntimeName, RuntimeOutcome>> = {};
  const active: RuntimeName[] = [];
  const failures = new Map<RuntimeName, number>();

  const fail = (rt: RuntimeName, what: string, err: unknown): void => {
    const o = outcomes[rt]!;
    const text = `${what}: ${errorText(err)}`;
    o.errors.push(text);
    ctx.log(`  ${rt}: ${firstLine(text)}`);
    const n = (failures.get(rt) ?? 0) + 1;
    failures.set(rt, n);
    if (n >= MAX_FAILURES && o.failed === undefined) o.failed = text;
  };

  for (const rt of ctx.runtimes) {
    const o: RuntimeOutcome = { samples: {}, details: [], errors: [] };
    for (const m of scenario.metrics) o.samples[m.id] = [];
    outcomes[rt] = o;
    try {
      await scenario.setup?.(rt);
      active.push(rt);
    } catch (err) {
      o.errors.push(`setup: ${errorText(err)}`);
      o.failed = `setup: ${errorText(err)}`;
      ctx.log(`  ${rt}: setup failed: ${firstLine(errorText(err))}`);
    }
  }

  for (let round = -scenario.warmup; round < scenario.runs && !ctx.stop.requested; round++) {
    for (const rt of active) {
      const o = outcomes[rt]!;
      if (o.failed !== undefined) continue;
      try {
        const r = await scenario.sample(rt, round);
        if (round < 0) continue;
        for (const m of scenario.metrics) {
          const v = r.values[m.id];
          if (v === undefined || !Number.isFinite(v)) throw new Error(`no value for ${m.id}`);
          o.samples[m.id].push(v);
        }
        if (r.detail) o.details.push(r.detail);
      } catch (err) {
        fail(rt, round < 0 ? "warmup" : `run ${round + 1}`, err);
      }
    }
  }

  for (const rt of active) {
    try {
      await scenario.teardown?.(rt);
    } catch (err) {
      fail(rt, "teardown", err);
    }
  }

  // Whatever a failed run left is removed here, so the next scenario starts clean.
  let cleanupError: string | undefined;
  try {
    const left = await purgeNamespace(ctx.cd);
    if (left.length > 0) ctx.log(`  removed ${left.length} container(s) left by ${scenario.name}`);
    await waitShimsGone(ctx.cd, shimsBefore);
  } catch (err) {
    cleanupError = errorText(err);
    ctx.log(`  cleanup after ${scenario.name} failed: ${firstLine(cleanupError)}`);
  }
  const sockets = removeLeftSockets(ctx, [...ctx.created].slice(idsBefore));
  if (sockets.length > 0) {
    const text = `shim sockets left after their containers were deleted (removed now): ${sockets.join("; ")}`;
    ctx.log(`  ${text}`);
    cleanupError = cleanupError === undefined ? text : `${cleanupError}; ${text}`;
  }

  // A runtime that produced no sample at all failed, even with one error only.
  for (const rt of ctx.runtimes) {
    const o = outcomes[rt]!;
    const produced = scenario.metrics.some((m) => (o.samples[m.id]?.length ?? 0) > 0);
    if (!produced && o.failed === undefined) {
      o.failed = o.errors[0] ?? (ctx.stop.requested ? "interrupted" : "no samples");
    }
  }
  return {
    name: scenario.name,
    title: scenario.title,
    metrics: scenario.metrics,
    runs: scenario.runs,
    outcomes,
    ...(cleanupError === undefined ? {} : { cleanupError }),
    durationMs: performance.now() - t0,
  };
}
