// What the `delete` verb needs after a shim died: written into the bundle by
// Create. The init's start time (from /proc/PID/stat) tells the recorded
// process from an unrelated one that reused its pid.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeAtomic } from "./start.js";

export interface BundleState {
  readonly id: string;
  readonly pid: number;
  readonly startTime: string;
  readonly cgroupsPath: string;
}

const FILE = "tsshim.json";

/** Field 22 of /proc/PID/stat (start time in clock ticks); "" when the process is gone. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19] ?? "";
  } catch {
    return "";
  }
}

export function writeBundleState(bundle: string, state: BundleState): void {
  writeAtomic(join(bundle, FILE), JSON.stringify(state));
}

export function readBundleState(bundle: string): BundleState | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(join(bundle, FILE), "utf8"));
    if (typeof v !== "object" || v === null) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o["id"] !== "string" || typeof o["pid"] !== "number") return undefined;
    return {
      id: o["id"],
      pid: o["pid"],
      startTime: typeof o["startTime"] === "string" ? o["startTime"] : "",
      cgroupsPath: typeof o["cgroupsPath"] === "string" ? o["cgroupsPath"] : "",
    };
  } catch {
    return undefined;
  }
}

/** After a clean Delete nothing is left for the `delete` verb to do. */
export function removeBundleState(bundle: string): void {
  rmSync(join(bundle, FILE), { force: true });
}
