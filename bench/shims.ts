// Finds the shim processes serving one containerd and reads their memory
// from /proc/PID/smaps_rollup (RSS, PSS and private dirty, in KiB).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { listPids, processCmdline } from "../test/helpers/proc.js";

export type ShimKind = "runc-v2" | "tsshim";

/**
 * Which shim `argv` is, if it is a shim of the containerd at `address`: its
 * argv carries `-address <address>` and it is containerd-shim-runc-v2 (Go;
 * runs runc and crun alike), or tsshim — its wrapper script
 * containerd-shim-tsshim-v2 or its Node daemon `node …/shim/main.js …`.
 */
export function shimKind(argv: readonly string[], address: string): ShimKind | undefined {
  const i = argv.indexOf("-address");
  if (i < 0 || argv[i + 1] !== address) return undefined;
  for (const a of argv.slice(0, 3)) {
    const base = a.split("/").pop() ?? "";
    if (base === "containerd-shim-runc-v2") return "runc-v2";
    if (base === "containerd-shim-tsshim-v2" || /\/shim\/main\.js$/.test(a)) return "tsshim";
  }
  return undefined;
}

/** Shim processes of the containerd at `address`, of one kind or of any. */
export function shimPids(address: string, kind?: ShimKind): number[] {
  return listPids().filter((pid) => {
    if (pid === process.pid) return false;
    const argv = processCmdline(pid);
    const k = argv === undefined ? undefined : shimKind(argv, address);
    return k !== undefined && (kind === undefined || k === kind);
  });
}

export interface ShimMemory {
  pid: number;
  rssKiB: number;
  pssKiB: number;
  privateDirtyKiB: number;
}

/**
 * tsshim's spare daemons of the containerd at `address` (`… -address A spare`):
 * booted shims waiting for the next container (src/shim/spare.ts). Not a
 * container's shim, but their memory is paid too: the memory scenarios add it
 * to tsshim's totals.
 */
export function sparePids(address: string): number[] {
  return listPids().filter((pid) => {
    const argv = processCmdline(pid);
    if (argv === undefined || argv.length < 3) return false;
    const verb = argv[argv.length - 1];
    return (verb === "spare" || verb === "adopt") && argv[argv.length - 2] === address;
  });
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

/**
 * Where a containerd-style shim (runc-v2; tsshim by default too) puts its
 * socket for group `id` (the container id, or the pod's sandbox id):
 * /run/containerd/s/<sha256(address/namespace/id)>. Not redirectable.
 */
export function shimSocketPath(address: string, namespace: string, id: string): string {
  return `/run/containerd/s/${createHash("sha256").update(`${address}/${namespace}/${id}`).digest("hex")}`;
}
