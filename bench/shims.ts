// Finds the shim processes serving one containerd and reads their memory
// from /proc/PID/smaps_rollup (RSS, PSS and private dirty, in KiB).
import { readFileSync } from "node:fs";
import { listPids, processCmdline } from "../test/helpers/proc.js";

/**
 * A shim of the containerd at `address`: its argv carries `-address
 * <address>` and it is either a containerd-shim-* binary (runc-v2's Go shim,
 * or tsshim's wrapper) or tsshim's daemon, which Node runs as
 * `node …/shim/main.js -namespace … -id … -address …`.
 */
export function isShimProcess(argv: readonly string[], address: string): boolean {
  const i = argv.indexOf("-address");
  if (i < 0 || argv[i + 1] !== address) return false;
  return argv.slice(0, 3).some((a) => {
    const base = a.split("/").pop() ?? "";
    return base.startsWith("containerd-shim") || /\/shim\/main\.js$/.test(a);
  });
}

export function shimPids(address: string): number[] {
  return listPids().filter((pid) => {
    if (pid === process.pid) return false;
    const argv = processCmdline(pid);
    return argv !== undefined && isShimProcess(argv, address);
  });
}

export interface ShimMemory {
  pid: number;
  rssKiB: number;
  pssKiB: number;
  privateDirtyKiB: number;
}

/** Memory of one process, or undefined if it exited meanwhile. */
export function readShimMemory(pid: number): ShimMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return undefined;
  }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
    if (!m) throw new Error(`/proc/${pid}/smaps_rollup has no ${name} line`);
    return Number(m[1]);
  };
  return { pid, rssKiB: field("Rss"), pssKiB: field("Pss"), privateDirtyKiB: field("Private_Dirty") };
}
