// Scenarios "memory" and "pod": what the shims of long-running containers
// cost, read from /proc/PID/smaps_rollup of every shim process that appeared
// for the run (so shims of earlier runs are never counted).
//  - memory: N containers (`sleep 3600`), one shim each: per-shim median of
//    RSS, PSS and private dirty, and the total PSS of all of them (tsshim:
//    with its spare daemon, src/shim/spare.ts);
//  - pod: N containers of one pod, grouped into one shim by the annotation
//    io.kubernetes.cri.sandbox-id (runc-v2 and tsshim both group on it):
//    total PSS and RSS of the pod's shim processes;
//  - group: N containers of one namespace. runc-v2 runs one shim each;
//    tsshim groups them into one shim with the annotation io.tsshim.group
//    (the same topology as the host-wide namespace mode, TSSHIM_GROUPING=
//    namespace, which the bench cannot set in its shared containerd's
//    environment): total PSS of all shims.
import type { RuntimeName } from "../../test/helpers/containerd.js";
import { sleep } from "../../test/helpers/proc.js";
import type { BenchContext } from "../context.js";
import { mapLimit, removeAll, runDetached, waitAllRunning, waitShimsGone } from "../ops.js";
import { RUNTIME_SHIMS } from "../runtimes.js";
import type { Scenario } from "../scenario.js";
import { readShimMemory, type ShimMemory, shimPids, sparePids } from "../shims.js";
import { median } from "../stats.js";

export const GROUP_ANNOTATION = "io.tsshim.group";
export const SANDBOX_ID_ANNOTATION = "io.kubernetes.cri.sandbox-id";
const CONTAINER_TYPE_ANNOTATION = "io.kubernetes.cri.container-type";

const mib = (kib: number): number => kib / 1024;

/** The spare daemons seen by the last measure() (tsshim only). */
let spareMemory: ShimMemory[] = [];
const spareKiB = (): number => spareMemory.reduce((s, m) => s + m.pssKiB, 0);

/** Starts the containers, reads the new shims' memory, removes everything again. */
async function measure(
  ctx: BenchContext,
  rt: RuntimeName,
  ids: string[],
  start: (ids: string[]) => Promise<void>,
): Promise<ShimMemory[]> {
  const { cd } = ctx;
  const before = new Set(shimPids(cd.address));
  try {
    await start(ids);
    await waitAllRunning(ctx.api, ids, 30_000);
    await sleep(ctx.sizes.settleMs);
    const shims = shimPids(cd.address, RUNTIME_SHIMS[rt]);
    // tsshim's waiting spare daemon counts in the totals (not per shim).
    const spares = rt === "tsshim" ? sparePids(cd.address) : [];
    const mem = shims.map(readShimMemory).filter((m): m is ShimMemory => m !== undefined);
    spareMemory = spares.map(readShimMemory).filter((m): m is ShimMemory => m !== undefined);
    if (mem.length === 0) {
      throw new Error(`no ${RUNTIME_SHIMS[rt]} shim process found for -address ${cd.address}`);
    }
    return mem;
  } finally {
    await removeAll(cd, ids);
    await waitShimsGone(cd, before);
  }
}

export function memoryScenario(ctx: BenchContext): Scenario {
  const count = ctx.sizes.memoryContainers;
  return {
    name: "memory",
    title: `Memory of ${count} long-running containers, one shim each`,
    metrics: [
      { id: "pss", label: `PSS per shim (${count} containers)`, unit: "MiB", better: "lower" },
      { id: "rss", label: `RSS per shim (${count} containers)`, unit: "MiB", better: "lower" },
      { id: "dirty", label: `private dirty per shim (${count} containers)`, unit: "MiB", better: "lower" },
      {
        id: "total",
        label: `total PSS of all shims (${count} containers; tsshim: + its spare)`,
        unit: "MiB",
        better: "lower",
      },
    ],
    runs: ctx.sizes.memoryRuns,
    warmup: 0,
    async sample(rt) {
      const ids = Array.from({ length: count }, () => ctx.nextId("mem", rt));
      const mem = await measure(ctx, rt, ids, (all) =>
        mapLimit(all, 4, (id) => runDetached(ctx, rt, id, ["sleep", "3600"])).then(() => undefined),
      );
      return {
        values: {
          pss: mib(median(mem.map((m) => m.pssKiB))),
          rss: mib(median(mem.map((m) => m.rssKiB))),
          dirty: mib(median(mem.map((m) => m.privateDirtyKiB))),
          total: mib(mem.reduce((s, m) => s + m.pssKiB, 0) + spareKiB()),
        },
        detail: { containers: count, shimProcesses: mem.length, shims: mem, spares: spareMemory },
      };
    },
  };
}

export function podScenario(ctx: BenchContext): Scenario {
  const size = ctx.sizes.podSize;
  return {
    name: "pod",
    title: `Memory of one pod of ${size} containers grouped in one shim`,
    metrics: [
      { id: "pss", label: `pod of ${size}: total shim PSS`, unit: "MiB", better: "lower" },
      { id: "rss", label: `pod of ${size}: total shim RSS`, unit: "MiB", better: "lower" },
    ],
    runs: ctx.sizes.podRuns,
    warmup: 0,
    async sample(rt) {
      const pod = ctx.nextId("pod", rt);
      const ids = [pod, ...Array.from({ length: size - 1 }, (_, i) => `${pod}-c${i + 1}`)];
      // One after the other: the first container's shim must be up before
      // the others can join it.
      const mem = await measure(ctx, rt, ids, async (all) => {
        for (const id of all) {
          const type = id === pod ? "sandbox" : "container";
          await runDetached(
            ctx,
            rt,
            id,
            ["sleep", "3600"],
            [
              "--annotation",
              `${SANDBOX_ID_ANNOTATION}=${pod}`,
              "--annotation",
              `${CONTAINER_TYPE_ANNOTATION}=${type}`,
            ],
          );
        }
      });
      return {
        values: {
          pss: mib(mem.reduce((s, m) => s + m.pssKiB, 0)),
          rss: mib(mem.reduce((s, m) => s + m.rssKiB, 0)),
        },
        // The node's one spare daemon is not the pod's: listed, not summed.
        detail: { containers: size, shimProcesses: mem.length, shims: mem, spares: spareMemory },
      };
    },
  };
}

export function groupScenario(ctx: BenchContext): Scenario {
  const count = ctx.sizes.groupContainers;
  return {
    name: "group",
    title: `Memory of ${count} containers of one namespace (tsshim: one grouped shim)`,
    metrics: [
      {
        id: "total",
        label: `${count} containers: total shim PSS (tsshim: + its spare)`,
        unit: "MiB",
        better: "lower",
      },
      { id: "rss", label: `${count} containers: total shim RSS`, unit: "MiB", better: "lower" },
    ],
    runs: ctx.sizes.groupRuns,
    warmup: 0,
    async sample(rt) {
      const ids = Array.from({ length: count }, () => ctx.nextId("grp", rt));
      const group = ids[0] ?? "group";
      const flags = rt === "tsshim" ? ["--annotation", `${GROUP_ANNOTATION}=${group}`] : [];
      const mem = await measure(ctx, rt, ids, async (all) => {
        const [first, ...rest] = all;
        // The first container's shim is up before the others join it.
        if (first !== undefined) await runDetached(ctx, rt, first, ["sleep", "3600"], flags);
        await mapLimit(rest, 4, (id) => runDetached(ctx, rt, id, ["sleep", "3600"], flags));
      });
      return {
        values: {
          total: mib(mem.reduce((s, m) => s + m.pssKiB, 0) + spareKiB()),
          rss: mib(mem.reduce((s, m) => s + m.rssKiB, 0)),
        },
        detail: { containers: count, shimProcesses: mem.length, shims: mem, spares: spareMemory },
      };
    },
  };
}
