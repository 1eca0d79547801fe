// Small readers of /proc and /sys used by the harness and the leak checker.
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function listPids(): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map((n) => Number.parseInt(n, 10));
}

/** argv of a process, or undefined if it is gone (or a kernel thread / zombie with no cmdline). */
export function processCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (raw === "") return undefined;
    return raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/** The environment a process was exec'd with (/proc/PID/environ), undefined once it is gone. */
export function processEnviron(pid: number): Map<string, string> | undefined {
  try {
    const out = new Map<string, string>();
    for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0) out.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return out;
  } catch {
    return undefined;
  }
}

export function processCwd(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
}

export function processStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces and parentheses: it ends at the last ")".
    const close = s.lastIndexOf(")");
    const rest = s.slice(close + 2).split(" ");
    return {
      pid,
      comm: s.slice(s.indexOf("(") + 1, close),
      state: rest[0],
      ppid: Number.parseInt(rest[1], 10),
    };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root` (not `root` itself). */
export function descendants(root: number): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const pid of listPids()) {
    const st = processStat(pid);
    if (!st) continue;
    const list = byParent.get(st.ppid) ?? [];
    list.push(st);
    byParent.set(st.ppid, list);
  }
  const out: ProcStat[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** "\040" style escapes in mountinfo paths. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

export function mounts(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    if (line === "") continue;
    const f = line.split(" ");
    const sep = f.indexOf("-");
    out.push({
      mountPoint: unescapeMountPath(f[4]),
      fsType: f[sep + 1],
      source: unescapeMountPath(f[sep + 2]),
    });
  }
  return out;
}

/** Mount points at or below `dir`, in mount order (unmount in reverse). */
export function mountsUnder(dir: string): string[] {
  return mounts()
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/**
 * Roots of every cgroup hierarchy: each v1 controller dir and the v2 one
 * (here /sys/fs/cgroup/unified). Symlinked aliases (cpu -> cpu,cpuacct) are
 * skipped so each hierarchy is listed once.
 */
export function cgroupHierarchies(): string[] {
  const base = "/sys/fs/cgroup";
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of mounts()) {
    if (m.fsType !== "cgroup" && m.fsType !== "cgroup2") continue;
    if (m.mountPoint !== base && !m.mountPoint.startsWith(`${base}/`)) continue;
    let key: string;
    try {
      const st = statSync(m.mountPoint);
      key = `${st.dev}:${st.ino}`;
    } catch {
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(m.mountPoint);
  }
  return out.sort();
}

/** fd number → link target of the current process's open fds. */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const n of readdirSync("/proc/self/fd")) {
    try {
      out.set(Number.parseInt(n, 10), readlinkSync(join("/proc/self/fd", n)));
    } catch {
      // the fd of the directory listing itself, closed by now
    }
  }
  return out;
}

/** The pids listed in a cgroup.procs (or similar) file; empty if it cannot be read. */
export function readPids(file: string): number[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((s) => Number.parseInt(s, 10));
  } catch {
    return [];
  }
}
