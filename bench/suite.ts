// The benchmark suite: one private containerd, the busybox image, every
// selected scenario for every selected runtime (interleaved run by run), then
// a leak check. Writes latest.md / latest.json / latest.svg and prints the
// table. Exit status: 0 when everything was measured and cleaned up (rows of
// a runtime that failed are reported as FAILED, not as an exit status), 1 when
// something was left behind or the suite itself broke, 2 on bad arguments.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import {
  CONTAINERD_BIN,
  type Containerd,
  CRUN_BIN,
  type RuntimeName,
  repoRoot,
  startContainerd,
} from "../test/helpers/containerd.js";
import { type ContainerdClient, containerdClient } from "../test/helpers/grpc.js";
import { importBusyboxImage } from "../test/helpers/image.js";
import { findLeaks, type Leak, takeLeakSnapshot } from "../test/helpers/leaks.js";
import type { BenchContext } from "./context.js";
import { errorText } from "./ops.js";
import { type BenchOptions, parseOptions, type ScenarioName, USAGE } from "./options.js";
import { markdownTable, type Row, summarize } from "./report.js";
import { runScenario } from "./runner.js";
import { BASELINE, RUNTIME_LABELS } from "./runtimes.js";
import type { ScenarioFactory, ScenarioResult } from "./scenario.js";
import { detachedScenario } from "./scenarios/detached.js";
import { execScenario } from "./scenarios/exec.js";
import { groupScenario, memoryScenario, podScenario } from "./scenarios/memory.js";
import { parallelScenario } from "./scenarios/parallel.js";
import { restartScenario } from "./scenarios/restart.js";
import { startScenarios } from "./scenarios/start.js";
import { stdoutScenario } from "./scenarios/stdout.js";
import { renderSvg } from "./svg.js";

export const SCENARIOS: Record<ScenarioName, ScenarioFactory> = {
  start: startScenarios,
  detached: detachedScenario,
  exec: execScenario,
  memory: memoryScenario,
  pod: podScenario,
  group: groupScenario,
  stdout: stdoutScenario,
  parallel: parallelScenario,
  restart: restartScenario,
};

export interface SuiteOutput {
  meta: Record<string, unknown>;
  rows: Row[];
  results: ScenarioResult[];
  leaks: Leak[];
  /** Problems of the suite itself: cleanup after a scenario, containerd's stop. */
  problems: string[];
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  return (r.stdout ?? "").split("\n")[0]?.trim() || `(${cmd} ${args.join(" ")} failed)`;
}

export async function runSuite(
  opts: BenchOptions,
  stop: { requested: boolean } = { requested: false },
): Promise<SuiteOutput> {
  const startedAt = new Date();
  const results: ScenarioResult[] = [];
  const problems: string[] = [];
  let leaks: Leak[] = [];
  log(
    `profile ${opts.profile}; runtimes ${opts.runtimes.join(", ")}; scenarios ${opts.scenarios.join(", ")}`,
  );
  // Info, not the harness's debug default: containerd's logging is on every path measured.
  const cd: Containerd = await startContainerd({ logLevel: "info", pathPrepend: opts.shimDirs });
  let api: ContainerdClient | undefined;
  try {
    const image = await importBusyboxImage(cd);
    const snapshot = takeLeakSnapshot(cd);
    api = containerdClient(cd.address, cd.namespace);
    await api.version.version({}, { timeoutMs: 10_000 });
    const created = new Map<string, RuntimeName>();
    const ctx: BenchContext = {
      cd,
      api,
      image,
      sizes: opts.sizes,
      runtimes: opts.runtimes,
      log,
      created,
      stop,
      nextId: (kind, rt) => {
        const id = `${kind}-${rt}-${created.size + 1}`;
        created.set(id, rt);
        return id;
      },
    };
    for (const name of opts.scenarios) {
      if (stop.requested) {
        problems.push(`interrupted: scenario ${name} and later ones not run`);
        break;
      }
      log(`scenario ${name}`);
      for (const scenario of [SCENARIOS[name](ctx)].flat()) {
        if (stop.requested) break;
        const result = await runScenario(ctx, scenario);
        results.push(result);
        if (result.cleanupError !== undefined) problems.push(`cleanup after ${name}: ${result.cleanupError}`);
        log(`${scenario.title}: done in ${(result.durationMs / 1000).toFixed(1)} s`);
      }
      if (!cd.running) {
        problems.push(`containerd was not running after ${name}; restarted it`);
        await cd.restart();
      }
    }
    api.close();
    api = undefined;
    leaks = await findLeaks(snapshot, 5_000);
  } catch (err) {
    problems.push(`suite aborted: ${errorText(err)}`);
  } finally {
    api?.close();
    try {
      await cd.stop();
    } catch (err) {
      problems.push(errorText(err));
    }
  }
  const finishedAt = new Date();
  const meta = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    profile: opts.profile,
    sizes: opts.sizes,
    scenarios: opts.scenarios,
    runtimes: opts.runtimes.map((r) => ({ name: r, label: RUNTIME_LABELS[r] })),
    baseline: RUNTIME_LABELS[BASELINE],
    shimDirs: opts.shimDirs,
    containerd: versionOf(CONTAINERD_BIN, ["--version"]),
    runc: versionOf("runc", ["--version"]),
    crun: versionOf(CRUN_BIN, ["--version"]),
    node: process.version,
    kernel: release(),
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
  };
  return { meta, rows: summarize(results, opts.runtimes), results, leaks, problems };
}

export function renderMarkdown(out: SuiteOutput, command: string): string {
  const m = out.meta;
  const lines = [
    "# tsshim benchmark results",
    "",
    `Command: \`${command}\` — profile ${String(m["profile"])}, ${String(m["startedAt"])}, ${Number(m["durationS"]).toFixed(0)} s.`,
    `Host: kernel ${String(m["kernel"])}, ${String(m["cpus"])}; ${String(m["containerd"])}; ${String(m["runc"])}; ${String(m["crun"])}; node ${String(m["node"])}.`,
    "",
    `Ratios are each runtime's median over ${String(m["baseline"])}'s median in the same run: below 1 is better, except rows marked ↑ (throughput), where above 1 is better. See docs/benchmarks.md.`,
    "",
    markdownTable(out.rows),
    "",
  ];
  if (out.leaks.length > 0) {
    lines.push("**Left behind after the suite:**", "", ...out.leaks.map((l) => `- ${l.kind}: ${l.what}`), "");
  }
  if (out.problems.length > 0) lines.push("**Problems:**", "", ...out.problems.map((p) => `- ${p}`), "");
  return lines.join("\n");
}

export function writeOutputs(out: SuiteOutput, dir: string, command: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "latest.md"), renderMarkdown(out, command));
  writeFileSync(join(dir, "latest.json"), `${JSON.stringify({ command, ...out }, null, 2)}\n`);
  const runtimes = out.rows.map((r) => r.runtime).filter((r, i, all) => all.indexOf(r) === i);
  writeFileSync(
    join(dir, "latest.svg"),
    renderSvg(
      out.rows,
      runtimes,
      `tsshim vs containerd's runc-v2 shim (${String(out.meta["profile"])} profile)`,
    ),
  );
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2), process.env, join(repoRoot(), "bench", "results"));
  } catch (err) {
    process.stderr.write(`${errorText(err)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const args = process.argv.slice(2);
  const command = args.length === 0 ? "npm run bench" : ["npm run bench --", ...args].join(" ");
  // First ^C: finish the run in progress, clean up, report what was measured.
  // (ctr processes in our process group get the SIGINT too; their runs fail.)
  const stop = { requested: false };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.requested) {
      log(`${signal} again: exiting without cleanup (containerd is killed; containers may be left)`);
      process.exit(130);
    }
    stop.requested = true;
    log(`${signal}: stopping after the current run, then cleaning up (again to exit at once)`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const out = await runSuite(opts, stop);
  writeOutputs(out, opts.outDir, command);
  process.stdout.write(`\n${markdownTable(out.rows)}\n\n`);
  log(`wrote ${join(opts.outDir, "latest.md")}, latest.json, latest.svg`);
  for (const l of out.leaks) log(`LEAK ${l.kind}: ${l.what}`);
  for (const p of out.problems) log(`PROBLEM ${p}`);
  if (out.leaks.length > 0 || out.problems.length > 0) {
    log("FAILED: the suite left something behind or broke (see above)");
    return 1;
  }
  return 0;
}

// Run only as the entry point, not when a test imports runSuite.
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
