// Helpers of the rootfs native tests: mountinfo parsing (inside and on the host), a check
// that the host's mount table did not change, and the addon's test-only rootfs runner
// (native/rootfs_testrun.c) for what Container.create has no switch for (no-pivot).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RootfsPlan } from "../../src/oci/rootfs-plan.js";

export interface MountInfo {
  mountPoint: string;
  root: string;
  /** Per-mount options: rw/ro, nosuid, nodev, noexec, relatime/noatime/strictatime. */
  opts: string[];
  /** Optional fields: shared:N, master:N, propagate_from:N, unbindable. */
  optional: string[];
  fstype: string;
  source: string;
  superOpts: string[];
}

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    out.push({
      root: pre[3] ?? "",
      mountPoint: (pre[4] ?? "").replace(/\\040/g, " "),
      opts: (pre[5] ?? "").split(","),
      optional: pre.slice(6),
      fstype: post[0] ?? "",
      source: post[1] ?? "",
      superOpts: (post[2] ?? "").split(","),
    });
  }
  return out;
}

/** The last (topmost) mount at mountPoint. */
export function mountAt(all: MountInfo[], mountPoint: string): MountInfo | undefined {
  return all.filter((m) => m.mountPoint === mountPoint).at(-1);
}

/** The host's mount table as "mountpoint fstype" lines: other tests may mount things meanwhile, so
 * callers compare only the entries that mention their own paths. */
export function hostMountsMentioning(...needles: string[]): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => needles.some((n) => l.includes(n)));
}

export interface TestRunResult {
  status: number;
  output: string;
  error: { errno: number; step: string; syscall: string; detail: string; path: string } | null;
}

interface RootfsTestAddon {
  _rootfsTestRun(
    plan: RootfsPlan,
    opts: {
      argv: string[];
      env: string[];
      cloneFlags: number;
      hostUid: number;
      hostGid: number;
      idCount: number;
      console: number;
    },
  ): TestRunResult;
  _rootfsPlanCheck(plan: unknown): Record<string, number>;
}

export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

let addon: RootfsTestAddon | undefined;

export function rootfsAddon(): RootfsTestAddon {
  if (addon !== undefined) return addon;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  const mod = createRequire(import.meta.url)(join(dir, "build/Release/tsshim_native.node")) as Record<
    string,
    unknown
  >;
  if (typeof mod["_rootfsTestRun"] !== "function")
    throw new Error("addon lacks _rootfsTestRun: npm run build:native");
  addon = mod as unknown as RootfsTestAddon;
  return addon;
}

/** Runs argv in a container made by the rootfs code alone (no caps/identity/seccomp). */
export function testRun(
  plan: RootfsPlan,
  argv: string[],
  cloneFlags: number = CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS,
  ids: { hostUid: number; hostGid: number; idCount: number } = { hostUid: 0, hostGid: 0, idCount: 0 },
  console = false,
): TestRunResult {
  const opts = { argv, env: ["PATH=/bin:/usr/bin"], cloneFlags, ...ids, console: console ? 1 : 0 };
  return rootfsAddon()._rootfsTestRun(plan, opts);
}
