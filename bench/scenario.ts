// The shape of a scenario and of what running it produces.
import type { RuntimeName } from "../test/helpers/containerd.js";
import type { BenchContext } from "./context.js";
import type { ScenarioName } from "./options.js";

export interface MetricDef {
  /** Key in a sample's values. */
  id: string;
  /** Row label in the report. */
  label: string;
  unit: "ms" | "MiB" | "MiB/s" | "s";
  better: "lower" | "higher";
}

export interface SampleResult {
  /** One value per metric id of the scenario. */
  values: Record<string, number>;
  /** Raw facts behind the values (per-shim memory, byte counts), kept in the JSON. */
  detail?: Record<string, unknown>;
}

export interface Scenario {
  name: ScenarioName;
  title: string;
  metrics: MetricDef[];
  /** Measured runs per runtime. */
  runs: number;
  /** Unmeasured runs per runtime before the measured ones. */
  warmup: number;
  /** Once per runtime before its first run (e.g. the container that execs go into). */
  setup?(rt: RuntimeName): Promise<void>;
  /** One run; cleans up what it created, also when it fails. */
  sample(rt: RuntimeName, round: number): Promise<SampleResult>;
  /** Once per runtime after its last run. */
  teardown?(rt: RuntimeName): Promise<void>;
}

/** What a scenario name on the command line runs: one scenario or several in a row. */
export type ScenarioFactory = (ctx: BenchContext) => Scenario | Scenario[];

export interface RuntimeOutcome {
  samples: Record<string, number[]>;
  details: Record<string, unknown>[];
  /** Every error met, in order (a runtime with errors but no `failed` recovered). */
  errors: string[];
  /** Why the runtime has no (or too few) results for this scenario. */
  failed?: string;
}

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  metrics: MetricDef[];
  runs: number;
  outcomes: Partial<Record<RuntimeName, RuntimeOutcome>>;
  /** Problems removing what the scenario left behind. */
  cleanupError?: string;
  durationMs: number;
}
