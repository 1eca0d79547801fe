// The benchmark suite works end to end: every scenario once, runc-v2+runc
// only, small sizes (the smoke profile), through the same script `npm run
// bench` uses; a runtime whose shim cannot start gets FAILED rows while the
// reference rows are still measured; and the suite's pure helpers. Asserts
// results and cleanliness, never timings.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { PROFILES, parseOptions } from "../../bench/options.js";
import { markdownTable, summarize } from "../../bench/report.js";
import type { ScenarioResult } from "../../bench/scenario.js";
import { parseTaskList } from "../../bench/scenarios/restart.js";
import { parseMountCommand } from "../../bench/scenarios/start.js";
import { shimKind } from "../../bench/shims.js";
import { median, p90, quantile } from "../../bench/stats.js";
import { renderSvg } from "../../bench/svg.js";
import { repoRoot } from "../helpers/containerd.js";

const out = mkdtempSync(join(tmpdir(), "tsshim-bench-smoke-"));

after(() => rmSync(out, { recursive: true, force: true }));

interface Outcome {
  samples: Record<string, number[]>;
  details: Record<string, unknown>[];
  errors: string[];
  failed?: string;
}

interface Result {
  name: string;
  metrics: { id: string }[];
  outcomes: Record<string, Outcome>;
}

interface SuiteJson {
  rows: { scenario: string; runtime: string; n: number; median: number; ratio: number; failed?: string }[];
  results: Result[];
  leaks: unknown[];
  problems: string[];
}

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = { PATH: process.env["PATH"] ?? "/usr/bin:/bin" };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot(), "scripts", "run-bench.mjs"), ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 55_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("npm run bench --smoke runs every scenario once for runc-v2+runc and leaves nothing", {
  timeout: 60_000,
}, async () => {
  const r = await runBench(["--smoke", "--runtimes", "runc", "--out", out]);
  assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stderr}`);

  const json = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as SuiteJson;
  assert.deepEqual(json.leaks, []);
  assert.deepEqual(json.problems, []);
  assert.deepEqual(
    [...new Set(json.results.map((x) => x.name))],
    ["start", "detached", "exec", "memory", "pod", "group", "stdout", "parallel", "restart"],
  );
  for (const result of json.results) {
    const runc = result.outcomes["runc"];
    assert.ok(runc, `${result.name}: no runc outcome`);
    assert.equal(runc.failed, undefined, `${result.name}: ${runc.failed}`);
    assert.deepEqual(runc.errors, [], `${result.name}`);
    for (const m of result.metrics) {
      const samples = runc.samples[m.id];
      assert.equal(samples.length, 1, `${result.name}/${m.id}: one sample`);
      assert.ok(Number.isFinite(samples[0]) && samples[0] > 0, `${result.name}/${m.id}: ${samples[0]}`);
    }
  }
  // Every row is the baseline itself.
  for (const row of json.rows) {
    assert.equal(row.runtime, "runc");
    assert.equal(row.n, 1);
    assert.equal(row.ratio, 1);
  }

  // The stdout scenario counted every byte.
  const stdout = json.results.find((x) => x.name === "stdout")!.outcomes["runc"].details[0]!;
  assert.equal(stdout["bytes"], 64 * 1024 * 1024);

  // Memory: one shim per container, each with RSS >= PSS > 0; the pod shares one shim.
  const memory = json.results.find((x) => x.name === "memory")!.outcomes["runc"].details[0]!;
  const shims = memory["shims"] as { rssKiB: number; pssKiB: number; privateDirtyKiB: number }[];
  assert.equal(shims.length, 3, "three containers, three runc-v2 shims");
  for (const s of shims) assert.ok(s.rssKiB >= s.pssKiB && s.pssKiB > 0 && s.privateDirtyKiB > 0);
  const pod = json.results.find((x) => x.name === "pod")!.outcomes["runc"].details[0]!;
  assert.equal(pod["shimProcesses"], 1, "the pod's three containers share one runc-v2 shim");

  // The table is printed and written; the plot is an SVG with a bar per row.
  assert.match(r.stdout, /\| start \| ctr run --rm \/bin\/true \| runc-v2\+runc \|/);
  const md = readFileSync(join(out, "latest.md"), "utf8");
  assert.match(md, /\| restart \| .* \| runc-v2\+runc \| [\d.]+ ms \|/);
  assert.ok(existsSync(join(out, "latest.svg")));
  const svg = readFileSync(join(out, "latest.svg"), "utf8");
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.equal(svg.match(/<rect class="bar" /g)?.length, json.rows.length, "one bar per row");
});

test("a tsshim whose shim cannot start: its rows say FAILED, the runc rows are measured, exit 0", {
  timeout: 60_000,
}, async () => {
  // A stand-in shim first on containerd's PATH that refuses every verb.
  const fake = join(out, "fake-shim");
  mkdirSync(fake);
  const shim = join(fake, "containerd-shim-tsshim-v2");
  writeFileSync(shim, "#!/bin/sh\necho 'fake tsshim: refusing' >&2\nexit 1\n");
  chmodSync(shim, 0o755);
  const dir = join(out, "broken");
  const r = await runBench([
    "--smoke",
    "--runtimes",
    "runc,tsshim",
    "--shim-dir",
    fake,
    "--out",
    dir,
    "start",
    "exec",
  ]);
  assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stderr}`);
  const json = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as SuiteJson;
  assert.deepEqual(json.leaks, []);
  assert.deepEqual(json.problems, []);
  assert.equal(json.rows.length, 6, "start (ctr, API) and exec, for two runtimes");
  for (const row of json.rows) {
    if (row.runtime === "runc") {
      assert.equal(row.failed, undefined);
      assert.equal(row.n, 1);
    } else {
      assert.equal(row.runtime, "tsshim");
      assert.equal(row.n, 0);
      assert.match(row.failed ?? "", /fake tsshim: refusing|exit status 1/);
    }
  }
  assert.match(
    readFileSync(join(dir, "latest.md"), "utf8"),
    /\| tsshim \| FAILED \| – \| 0 \| – \| FAILED: /,
  );
  assert.match(readFileSync(join(dir, "latest.svg"), "utf8"), /tsshim: failed/);
});

test("quantiles interpolate between ranks", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(p90([5]), 5);
  assert.equal(quantile([0, 10], 0.9), 9);
  assert.ok(Number.isNaN(median([])));
});

test("options: profiles, scenario and runtime order, overrides, errors", () => {
  const o = parseOptions(
    ["exec", "start", "--full", "--runtimes", "tsshim,runc", "--set", "stdoutMiB=8"],
    {},
    "/out",
  );
  assert.deepEqual(o.scenarios, ["start", "exec"]);
  assert.deepEqual(o.runtimes, ["runc", "tsshim"]);
  assert.equal(o.profile, "full");
  assert.equal(o.sizes.stdoutMiB, 8);
  assert.equal(o.sizes.startRuns, PROFILES.full.startRuns);
  assert.equal(o.outDir, "/out");
  const env = parseOptions([], { BENCH_PROFILE: "smoke", BENCH_N: "3", BENCH_SHIM_DIR: "/a:/b" }, "/out");
  assert.equal(env.profile, "smoke");
  assert.equal(env.sizes.execRuns, 3);
  assert.equal(env.sizes.memoryContainers, PROFILES.smoke.memoryContainers, "--n sets run counts only");
  assert.deepEqual(env.shimDirs, ["/a", "/b"]);
  assert.deepEqual(env.scenarios.length, 9);
  assert.throws(() => parseOptions(["nosuch"], {}, "/out"), /unknown scenario/);
  assert.throws(() => parseOptions(["--runtimes", "kata"], {}, "/out"), /unknown runtime/);
  assert.throws(() => parseOptions(["--quick", "--full"], {}, "/out"), /choose one profile/);
  assert.throws(() => parseOptions(["--set", "nope=1"], {}, "/out"), /KEY one of/);
});

test("shims are told apart by binary and by the containerd they serve", () => {
  const a = "/tmp/x/containerd.sock";
  assert.equal(
    shimKind(["/usr/bin/containerd-shim-runc-v2", "-namespace", "n", "-id", "c", "-address", a], a),
    "runc-v2",
  );
  assert.equal(shimKind(["node", "/r/dist/src/shim/main.js", "-namespace", "n", "-address", a], a), "tsshim");
  assert.equal(
    shimKind(["containerd-shim-tsshim-v2", "/r/dist/src/shim/main.js", "-address", a], a),
    "tsshim",
  );
  assert.equal(
    shimKind(["/usr/bin/containerd-shim-runc-v2", "-address", "/run/containerd/containerd.sock"], a),
    undefined,
  );
  assert.equal(shimKind(["sleep", "-address", a], a), undefined);
});

test("ctr output parsers: snapshot mounts and task list", () => {
  const m = parseMountCommand(
    "mount -t overlay overlay /tgt -o index=off,workdir=/w,upperdir=/u,lowerdir=/l\n",
  );
  assert.deepEqual(m, {
    type: "overlay",
    source: "overlay",
    target: "",
    options: ["index=off", "workdir=/w", "upperdir=/u", "lowerdir=/l"],
  });
  assert.throws(() => parseMountCommand("garbage"), /unexpected/);
  const tasks = parseTaskList(
    "TASK    PID     STATUS    \na       123     RUNNING\nb       0       STOPPED\n",
  );
  assert.deepEqual(
    [...tasks],
    [
      ["a", "RUNNING"],
      ["b", "STOPPED"],
    ],
  );
});

test("report: ratios to runc-v2+runc, FAILED rows, one SVG bar per measured row", () => {
  const results: ScenarioResult[] = [
    {
      name: "exec",
      title: "t",
      metrics: [{ id: "exec", label: "exec", unit: "ms", better: "lower" }],
      runs: 3,
      durationMs: 1,
      outcomes: {
        runc: { samples: { exec: [100, 120, 110] }, details: [], errors: [] },
        crun: { samples: { exec: [55, 50, 60] }, details: [], errors: ["run 4: x"] },
        tsshim: { samples: { exec: [] }, details: [], errors: ["setup: boom"], failed: "setup: boom" },
      },
    },
  ];
  const rows = summarize(results, ["runc", "crun", "tsshim"]);
  assert.deepEqual(
    rows.map((r) => [r.runtime, r.median, r.n, r.ratio]),
    [
      ["runc", 110, 3, 1],
      ["crun", 55, 3, 0.5],
      ["tsshim", Number.NaN, 0, Number.NaN],
    ],
  );
  const md = markdownTable(rows);
  assert.match(
    md,
    /\| exec \| exec \| runc-v2\+crun \| 55\.0 ms \| 59\.0 ms \| 3 \| 0\.50× \| 1 failed run\(s\) not counted; first: run 4: x \|/,
  );
  assert.match(md, /\| tsshim \| FAILED \| – \| 0 \| – \| FAILED: setup: boom \|/);
  const svg = renderSvg(rows, ["runc", "crun", "tsshim"], "t <&>");
  assert.equal(svg.match(/<rect class="bar" /g)?.length, 2);
  assert.match(svg, /t &lt;&amp;&gt;/);
  assert.match(svg, /tsshim: failed/);
});
