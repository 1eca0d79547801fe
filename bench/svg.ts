// A plot of the summary for the README, written by hand (no plotting
// package): one group per metric, one horizontal bar per runtime, bar length
// = ratio to the baseline, a dashed line at 1.0.
import type { RuntimeName } from "../test/helpers/containerd.js";
import { formatRatio, formatValue, type Row } from "./report.js";
import { BASELINE, RUNTIME_LABELS } from "./runtimes.js";

const COLORS: Record<RuntimeName, string> = { runc: "#4e79a7", crun: "#f28e2b", tsshim: "#59a14f" };

const LABEL_W = 330;
const BAR_W = 430;
const VALUE_W = 170;
const BAR_H = 14;
const BAR_GAP = 3;
const GROUP_GAP = 14;
const TOP = 64;
const MAX_SCALE = 4;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function renderSvg(rows: readonly Row[], runtimes: readonly RuntimeName[], title: string): string {
  const groups: Row[][] = [];
  for (const r of rows) {
    const last = groups[groups.length - 1];
    if (last && last[0].scenario === r.scenario && last[0].metric.id === r.metric.id) last.push(r);
    else groups.push([r]);
  }
  const finite = rows.map((r) => r.ratio).filter((x) => Number.isFinite(x));
  const scale = Math.min(MAX_SCALE, Math.max(1.5, ...finite) * 1.05);
  const x0 = LABEL_W;
  const px = (ratio: number): number => (Math.min(ratio, scale) / scale) * BAR_W;
  const groupH = runtimes.length * (BAR_H + BAR_GAP) + GROUP_GAP;
  const width = LABEL_W + BAR_W + VALUE_W;
  const height = TOP + groups.length * groupH + 30;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="40" fill="#555">ratio of each runtime's median to ${esc(RUNTIME_LABELS[BASELINE])} (bars); below 1 is better, except rows marked ↑</text>`,
  );
  // Legend.
  let lx = x0;
  for (const rt of runtimes) {
    out.push(
      `<rect x="${lx}" y="48" width="12" height="10" fill="${COLORS[rt]}"/>`,
      `<text x="${lx + 16}" y="57">${esc(RUNTIME_LABELS[rt])}</text>`,
    );
    lx += 130;
  }
  // The 1.0 line first, so bar labels are drawn over it.
  const one = x0 + px(1);
  const bottom = TOP + groups.length * groupH;
  out.push(
    `<line x1="${one.toFixed(1)}" y1="${TOP - 4}" x2="${one.toFixed(1)}" y2="${bottom}" stroke="#999" stroke-dasharray="4 3"/>`,
    `<text x="${one.toFixed(1)}" y="${bottom + 14}" text-anchor="middle" fill="#333">1.0×</text>`,
  );
  groups.forEach((g, gi) => {
    const gy = TOP + gi * groupH;
    const metric = g[0].metric;
    const label = `${g[0].scenario}: ${metric.label}${metric.better === "higher" ? " ↑" : ""}`;
    const midY = gy + (runtimes.length * (BAR_H + BAR_GAP)) / 2 + 4;
    out.push(`<text x="${LABEL_W - 8}" y="${midY}" text-anchor="end">${esc(label)}</text>`);
    g.forEach((r, i) => {
      const y = gy + i * (BAR_H + BAR_GAP);
      const ty = y + BAR_H - 3;
      if (!Number.isFinite(r.ratio)) {
        const why =
          r.failed !== undefined ? "failed" : r.n > 0 ? formatValue(r.median, metric.unit) : "no data";
        out.push(
          `<text x="${x0 + 4}" y="${ty}" fill="${r.failed !== undefined ? "#c0392b" : "#777"}">${esc(`${RUNTIME_LABELS[r.runtime]}: ${why}`)}</text>`,
        );
        return;
      }
      const w = Math.max(1, px(r.ratio));
      out.push(
        `<rect class="bar" x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLORS[r.runtime]}"/>`,
      );
      const clipped = r.ratio > scale ? " ›" : "";
      const stopped = r.failed !== undefined ? ` (${r.n} runs, then failed)` : "";
      out.push(
        `<text x="${(x0 + w + 4).toFixed(1)}" y="${ty}">${esc(`${formatRatio(r.ratio)}${clipped}  ${formatValue(r.median, metric.unit)}${stopped}`)}</text>`,
      );
    });
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
