// Command line and environment of the suite: which scenarios, which
// runtimes, how big. Three profiles size every scenario at once; --n and
// --set override single knobs.
import { parseArgs } from "node:util";
import type { RuntimeName } from "../test/helpers/containerd.js";

export const SCENARIO_NAMES = [
  "start",
  "detached",
  "exec",
  "memory",
  "pod",
  "group",
  "stdout",
  "parallel",
  "restart",
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const RUNTIME_NAMES: readonly RuntimeName[] = ["runc", "crun", "tsshim"];

export interface Sizes {
  /** Untimed runs per runtime before the measured ones (latency scenarios). */
  warmup: number;
  startRuns: number;
  detachedRuns: number;
  execRuns: number;
  memoryRuns: number;
  memoryContainers: number;
  podRuns: number;
  podSize: number;
  groupRuns: number;
  /** Containers of one namespace for the grouping scenario (tsshim: one shim). */
  groupContainers: number;
  stdoutRuns: number;
  stdoutMiB: number;
  parallelRuns: number;
  parallelCount: number;
  restartRuns: number;
  restartContainers: number;
  /** Wait after the last container started before reading memory (lets shims settle). */
  settleMs: number;
}

export type ProfileName = "smoke" | "quick" | "full";

export const PROFILES: Record<ProfileName, Sizes> = {
  // CI proof that every scenario works: one run each, small sizes.
  smoke: {
    warmup: 0,
    startRuns: 1,
    detachedRuns: 1,
    execRuns: 1,
    memoryRuns: 1,
    memoryContainers: 3,
    podRuns: 1,
    podSize: 3,
    groupRuns: 1,
    groupContainers: 5,
    stdoutRuns: 1,
    stdoutMiB: 64,
    parallelRuns: 1,
    parallelCount: 5,
    restartRuns: 1,
    restartContainers: 3,
    settleMs: 300,
  },
  // Under 3 minutes for three runtimes.
  quick: {
    warmup: 1,
    startRuns: 20,
    detachedRuns: 8,
    execRuns: 20,
    memoryRuns: 1,
    memoryContainers: 20,
    podRuns: 1,
    podSize: 10,
    groupRuns: 1,
    groupContainers: 100,
    stdoutRuns: 2,
    stdoutMiB: 512,
    parallelRuns: 1,
    parallelCount: 30,
    restartRuns: 1,
    restartContainers: 10,
    settleMs: 1000,
  },
  // Under 20 minutes for three runtimes.
  full: {
    warmup: 2,
    startRuns: 50,
    detachedRuns: 30,
    execRuns: 50,
    memoryRuns: 3,
    memoryContainers: 20,
    podRuns: 3,
    podSize: 10,
    groupRuns: 1,
    groupContainers: 100,
    stdoutRuns: 5,
    stdoutMiB: 512,
    parallelRuns: 5,
    parallelCount: 30,
    restartRuns: 5,
    restartContainers: 10,
    settleMs: 2000,
  },
};

const RUN_KEYS = [
  "startRuns",
  "detachedRuns",
  "execRuns",
  "memoryRuns",
  "podRuns",
  "stdoutRuns",
  "parallelRuns",
  "restartRuns",
] as const satisfies readonly (keyof Sizes)[];

export interface BenchOptions {
  scenarios: ScenarioName[];
  runtimes: RuntimeName[];
  profile: ProfileName;
  sizes: Sizes;
  /** Where latest.{md,json,svg} go. */
  outDir: string;
  /**
   * Dirs put before <repo>/bin on containerd's PATH, so their
   * containerd-shim-tsshim-v2 is the one measured (another build, a wrapper).
   */
  shimDirs: string[];
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [scenario ...] [options]

scenarios: ${SCENARIO_NAMES.join(", ")} (default: all)
options:
  --quick | --full | --smoke | --profile NAME   sizes (default: quick; env BENCH_PROFILE)
  --runtimes LIST      comma-separated from ${RUNTIME_NAMES.join(",")} (default: all; env BENCH_RUNTIMES)
  --n N                runs of every scenario (env BENCH_N)
  --set KEY=VALUE      any size, e.g. --set memoryContainers=50 (repeatable)
  --out DIR            output dir (default: bench/results; env BENCH_OUT)
  --shim-dir DIR       put DIR before <repo>/bin on containerd's PATH: measure the
                       containerd-shim-tsshim-v2 in it (repeatable; env BENCH_SHIM_DIR, colon-separated)
`;

function isScenario(s: string): s is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(s);
}

function isRuntime(s: string): s is RuntimeName {
  return (RUNTIME_NAMES as readonly string[]).includes(s);
}

function isProfile(s: string): s is ProfileName {
  return s in PROFILES;
}

function isSizeKey(s: string, sizes: Sizes): s is keyof Sizes {
  return Object.hasOwn(sizes, s);
}

function positiveInt(name: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function parseOptions(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  defaultOutDir: string,
): BenchOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      quick: { type: "boolean" },
      full: { type: "boolean" },
      smoke: { type: "boolean" },
      profile: { type: "string" },
      runtimes: { type: "string" },
      n: { type: "string" },
      set: { type: "string", multiple: true },
      out: { type: "string" },
      "shim-dir": { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  });
  const flagProfiles = (["quick", "full", "smoke"] as const).filter((p) => values[p] === true);
  if (flagProfiles.length > 1) throw new Error(`choose one profile, not ${flagProfiles.join(" and ")}`);
  const profile = flagProfiles[0] ?? values.profile ?? env["BENCH_PROFILE"] ?? "quick";
  if (!isProfile(profile)) throw new Error(`unknown profile "${profile}" (smoke, quick, full)`);
  const sizes: Sizes = { ...PROFILES[profile] };

  const n = values.n ?? env["BENCH_N"];
  if (n !== undefined) {
    const runs = positiveInt("--n", n);
    for (const k of RUN_KEYS) sizes[k] = runs;
  }
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf("=");
    const key = kv.slice(0, eq);
    if (eq < 0 || !isSizeKey(key, sizes)) {
      throw new Error(`--set ${kv}: expected KEY=VALUE with KEY one of ${Object.keys(sizes).join(", ")}`);
    }
    sizes[key] = positiveInt(key, kv.slice(eq + 1), key === "warmup" || key === "settleMs" ? 0 : 1);
  }

  const scenarios: ScenarioName[] = [];
  for (const p of positionals) {
    if (!isScenario(p)) throw new Error(`unknown scenario "${p}" (${SCENARIO_NAMES.join(", ")})`);
    if (!scenarios.includes(p)) scenarios.push(p);
  }
  const runtimeList = values.runtimes ?? env["BENCH_RUNTIMES"];
  const runtimes: RuntimeName[] = [];
  for (const r of runtimeList === undefined ? RUNTIME_NAMES : runtimeList.split(",").filter(Boolean)) {
    if (!isRuntime(r)) throw new Error(`unknown runtime "${r}" (${RUNTIME_NAMES.join(", ")})`);
    if (!runtimes.includes(r)) runtimes.push(r);
  }
  if (runtimes.length === 0) throw new Error("no runtime selected");

  return {
    // Keep the canonical order whatever order they were named in.
    scenarios:
      scenarios.length === 0 ? [...SCENARIO_NAMES] : SCENARIO_NAMES.filter((s) => scenarios.includes(s)),
    runtimes: RUNTIME_NAMES.filter((r) => runtimes.includes(r)),
    profile,
    sizes,
    outDir: values.out ?? env["BENCH_OUT"] ?? defaultOutDir,
    shimDirs: values["shim-dir"] ?? env["BENCH_SHIM_DIR"]?.split(":").filter(Boolean) ?? [],
    help: values.help === true,
  };
}
