// The benchmark suite works end to end: every scenario once, runc-v2+runc
// only, small sizes (the smoke profile), through the same script `npm run
// bench` uses. Asserts results and cleanliness, never timings.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
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
    ["start", "detached", "exec", "memory", "pod", "stdout", "parallel", "restart"],
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
