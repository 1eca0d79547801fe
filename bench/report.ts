// Turns scenario results into summary rows (median, p90, N, ratio to the
// baseline runtime) and renders them as a markdown table.
import type { RuntimeName } from "../test/helpers/containerd.js";
import { BASELINE, RUNTIME_LABELS } from "./runtimes.js";
import type { MetricDef, ScenarioResult } from "./scenario.js";
import { median, p90, ratio } from "./stats.js";

export interface Row {
  scenario: string;
  metric: MetricDef;
  runtime: RuntimeName;
  n: number;
  median: number;
  p90: number;
  /** median / baseline's median (NaN when either is missing). */
  ratio: number;
  failed?: string;
  /** Errors met by runs that were not counted. */
  errors: number;
  firstError?: string;
}

export function summarize(results: readonly ScenarioResult[], runtimes: readonly RuntimeName[]): Row[] {
  const rows: Row[] = [];
  for (const r of results) {
    for (const metric of r.metrics) {
      const base = r.outcomes[BASELINE]?.samples[metric.id] ?? [];
      const baseMedian = base.length > 0 ? median(base) : Number.NaN;
      for (const rt of runtimes) {
        const o = r.outcomes[rt];
        const samples = o?.samples[metric.id] ?? [];
        const m = samples.length > 0 ? median(samples) : Number.NaN;
        rows.push({
          scenario: r.name,
          metric,
          runtime: rt,
          n: samples.length,
          median: m,
          p90: samples.length > 0 ? p90(samples) : Number.NaN,
          ratio: ratio(m, baseMedian),
          ...(o?.failed === undefined ? {} : { failed: o.failed }),
          errors: o?.errors.length ?? 0,
          ...(o?.errors[0] === undefined ? {} : { firstError: o.errors[0] }),
        });
      }
    }
  }
  return rows;
}

export function formatValue(v: number, unit: MetricDef["unit"]): string {
  if (!Number.isFinite(v)) return "–";
  const digits = unit === "MiB" ? 2 : v >= 100 ? 0 : 1;
  return `${v.toFixed(digits)} ${unit}`;
}

export function formatRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "–";
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();
}

function shorten(s: string, max = 160): string {
  const one = s.replace(/\s+/g, " ").trim();
  // The cause is at the end of an error (after the command), so keep both ends.
  const head = Math.floor(max / 3);
  return one.length > max ? `${one.slice(0, head)} … ${one.slice(one.length - (max - head - 3))}` : one;
}

export function markdownTable(rows: readonly Row[]): string {
  const head = [
    `| scenario | metric | runtime | median | p90 | N | ratio to ${RUNTIME_LABELS[BASELINE]} | notes |`,
    "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
  ];
  const body = rows.map((r) => {
    const better = r.metric.better === "higher" ? " (↑ better)" : "";
    let notes = "";
    if (r.failed !== undefined) notes = `FAILED: ${shorten(r.failed)}`;
    else if (r.errors > 0)
      notes = `${r.errors} failed run(s) not counted; first: ${shorten(r.firstError ?? "")}`;
    return `| ${[
      r.scenario,
      `${r.metric.label}${better}`,
      RUNTIME_LABELS[r.runtime],
      r.failed !== undefined && r.n === 0 ? "FAILED" : formatValue(r.median, r.metric.unit),
      formatValue(r.p90, r.metric.unit),
      String(r.n),
      formatRatio(r.ratio),
      notes,
    ]
      .map(cell)
      .join(" | ")} |`;
  });
  return [...head, ...body].join("\n");
}
