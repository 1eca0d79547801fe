// Leak checker for end-to-end tests: take a snapshot before the test's work,
// then compare after it. Reports what a user would find left over:
//   - processes: new descendants of this test process; new shims serving
//     this containerd (argv carries `-address <its address>`); new members of
//     the namespaces' cgroups; new processes whose cwd is in the temp dir;
//   - mounts under the containerd's temp dir (/proc/self/mountinfo);
//   - shim sockets of this containerd in /run/containerd/s (the runc shim's
//     place, which cannot be redirected), for the container ids it knows;
//   - runc/crun state dirs of containers (<dir>/runc/<ns>/<id>, also under
//     /run/containerd/runc/<ns> where `ctr containers create` puts them);
//   - cgroup dirs under <hierarchy>/<namespace>/ in every v1 controller and
//     in cgroup2 (the namespace dir itself is the shared parent, not a leak);
//   - fds of this process.
// Things settle asynchronously (a shim exits shortly after `ctr run --rm`
// returns), so the comparison is retried for a while before it reports.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type Containerd, isShimOf } from "./containerd.js";
import {
  cgroupHierarchies,
  descendants,
  listPids,
  mountsUnder,
  openFds,
  processCmdline,
  processCwd,
  readPids,
  sleep,
} from "./proc.js";

export interface LeakSnapshot {
  cd: Containerd;
  /** Descendants of the test process. */
  processes: Set<number>;
  /** Shims, cgroup members and processes working in the temp dir. */
  external: Set<number>;
  mounts: Set<string>;
  /** Shim sockets of this containerd in /run/containerd/s (see Containerd.knownShimSocketPaths). */
  sockets: Set<string>;
  /** Per-container state dirs of runc/crun (a container not deleted). */
  runtimeState: Set<string>;
  cgroups: Set<string>;
  fds: Map<number, string>;
}

export type LeakKind =
  | "process"
  | "shim"
  | "cgroup-process"
  | "mount"
  | "socket"
  | "runtime-state"
  | "cgroup"
  | "fd";

export interface Leak {
  kind: LeakKind;
  what: string;
  /** Whose it is, when known (a shim socket's namespace/id), for the report only. */
  of?: string;
}

export class LeakError extends Error {
  readonly leaks: Leak[];
  constructor(leaks: Leak[]) {
    super(
      `${leaks.length} leak(s):\n${leaks.map((l) => `  ${l.kind}: ${l.what}${l.of === undefined ? "" : ` (${l.of})`}`).join("\n")}`,
    );
    this.name = "LeakError";
    this.leaks = leaks;
  }
}

function describe(pid: number): string {
  const argv = processCmdline(pid);
  return `pid ${pid} ${argv ? argv.join(" ") : "(no cmdline: zombie or gone)"}`;
}

function cgroupTree(cd: Containerd): Set<string> {
  const out = new Set<string>();
  const hierarchies = cgroupHierarchies();
  for (const d of cd.cgroupDirs()) {
    // The namespace dir itself is created by the first container and shared.
    const rel = hierarchies.find((h) => d.startsWith(`${h}/`));
    if (rel === undefined) continue;
    const parts = d.slice(rel.length + 1).split("/");
    if (parts.length > 1) out.add(d);
  }
  return out;
}

function ourDescendants(cd: Containerd): Set<number> {
  // containerd itself is expected (and changes pid across restart()).
  return new Set(
    descendants(process.pid)
      .map((p) => p.pid)
      .filter((p) => p !== cd.pid),
  );
}

/**
 * Processes of this containerd outside our own tree: shims (argv has
 * `-address <address>`), processes in the namespaces' cgroups, and processes
 * whose cwd is inside the temp dir (a shim's cwd is its bundle).
 */
function containerdProcesses(cd: Containerd): Map<number, { kind: LeakKind; where: string }> {
  const out = new Map<number, { kind: LeakKind; where: string }>();
  for (const d of cd.cgroupDirs()) {
    for (const pid of readPids(join(d, "cgroup.procs"))) {
      if (!out.has(pid)) out.set(pid, { kind: "cgroup-process", where: ` in ${d}` });
    }
  }
  const prefix = `${cd.dir}/`;
  for (const pid of listPids()) {
    if (pid === process.pid || pid === cd.pid) continue;
    const argv = processCmdline(pid);
    if (argv !== undefined && isShimOf(argv, cd.address)) out.set(pid, { kind: "shim", where: "" });
    else if (!out.has(pid) && processCwd(pid)?.startsWith(prefix)) {
      out.set(pid, { kind: "process", where: ` (cwd ${processCwd(pid)})` });
    }
  }
  return out;
}

function runtimeState(cd: Containerd): Set<string> {
  const out = new Set<string>();
  for (const d of cd.runtimeStateDirs()) {
    try {
      for (const id of readdirSync(d)) out.add(join(d, id));
    } catch {
      // no such dir: nothing there
    }
  }
  return out;
}

export function takeLeakSnapshot(cd: Containerd): LeakSnapshot {
  return {
    cd,
    processes: ourDescendants(cd),
    external: new Set(containerdProcesses(cd).keys()),
    mounts: new Set(mountsUnder(cd.dir)),
    sockets: new Set(cd.knownShimSocketPaths()),
    runtimeState: runtimeState(cd),
    cgroups: cgroupTree(cd),
    fds: openFds(),
  };
}

/** Compares now against `before`, once. */
export function diffLeaks(before: LeakSnapshot): Leak[] {
  const { cd } = before;
  const leaks: Leak[] = [];
  const ours = ourDescendants(cd);
  for (const pid of ours) {
    if (!before.processes.has(pid)) leaks.push({ kind: "process", what: describe(pid) });
  }
  for (const [pid, { kind, where }] of containerdProcesses(cd)) {
    if (!before.external.has(pid) && !ours.has(pid)) leaks.push({ kind, what: `${describe(pid)}${where}` });
  }
  for (const m of mountsUnder(cd.dir)) {
    if (!before.mounts.has(m)) leaks.push({ kind: "mount", what: m });
  }
  for (const s of runtimeState(cd)) {
    if (!before.runtimeState.has(s)) leaks.push({ kind: "runtime-state", what: s });
  }
  for (const s of cd.knownShimSocketPaths()) {
    if (before.sockets.has(s)) continue;
    const of = cd.shimSocketOwner(s);
    leaks.push(of === undefined ? { kind: "socket", what: s } : { kind: "socket", what: s, of });
  }
  for (const c of cgroupTree(cd)) {
    if (!before.cgroups.has(c)) leaks.push({ kind: "cgroup", what: c });
  }
  for (const [fd, target] of openFds()) {
    if (before.fds.get(fd) !== target) leaks.push({ kind: "fd", what: `fd ${fd} -> ${target}` });
  }
  const order: LeakKind[] = [
    "process",
    "shim",
    "cgroup-process",
    "mount",
    "socket",
    "runtime-state",
    "cgroup",
    "fd",
  ];
  return leaks.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}

/** Retries diffLeaks until it is empty or `settleMs` passed; returns the last result. */
export async function findLeaks(before: LeakSnapshot, settleMs = 3_000): Promise<Leak[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const leaks = diffLeaks(before);
    if (leaks.length === 0 || Date.now() >= deadline) return leaks;
    await sleep(50);
  }
}

/** Throws a LeakError listing every leak (after letting things settle). */
export async function assertNoLeaks(before: LeakSnapshot, settleMs?: number): Promise<void> {
  const leaks = await findLeaks(before, settleMs);
  if (leaks.length > 0) throw new LeakError(leaks);
}
