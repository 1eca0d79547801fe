// Scenario "start": the cost of one short-lived container, twice.
//  - `ctr run --rm IMAGE ID /bin/true`: what a user types; includes ctr's own
//    start-up and the snapshot prepare/remove, the same for every runtime.
//  - the containerd API lifecycle a client library does: Containers.Create,
//    Tasks.Create (rootfs from one snapshot prepared beforehand), Tasks.Wait,
//    Tasks.Start, the exit, Tasks.Delete, Containers.Delete.
import { join } from "node:path";
import type { Mount } from "../../src/api/gen/containerd/types/mount_pb.js";
import { packJsonAny, specTypeUrls } from "../../src/api/typeurl.js";
import type { RuntimeName } from "../../test/helpers/containerd.js";
import { busyboxImageArchive } from "../../test/helpers/image.js";
import type { BenchContext } from "../context.js";
import { ctrOk, removeContainer, since } from "../ops.js";
import { runtimeRecord } from "../runtimes.js";
import type { Scenario } from "../scenario.js";
import { apiSpec } from "../spec.js";

/** Parses `ctr snapshots mounts` output: `mount -t TYPE SOURCE TARGET -o OPTS`. */
export function parseMountCommand(line: string): Omit<Mount, "$typeName" | "$unknown"> {
  const m = /^mount -t (\S+) (\S+) (\S+)(?: -o (\S+))?$/.exec(line.trim());
  if (!m) throw new Error(`unexpected ctr snapshots mounts output: ${line}`);
  return { type: m[1], source: m[2], target: "", options: m[4] === undefined ? [] : m[4].split(",") };
}

/** The two halves run as separate scenarios, so one failing does not hide the other. */
export function startScenarios(ctx: BenchContext): Scenario[] {
  const { cd, api } = ctx;
  const rootfs = new Map<RuntimeName, Omit<Mount, "$typeName" | "$unknown">[]>();
  const snapshotKey = (rt: RuntimeName): string => `bench-start-api-${rt}`;

  async function ctrRun(rt: RuntimeName): Promise<number> {
    const id = ctx.nextId("start", rt);
    const t0 = performance.now();
    try {
      await ctrOk(cd, ["run", "--rm", ...cd.runtimeFlags(rt), ctx.image, id, "/bin/true"]);
    } catch (err) {
      await removeContainer(cd, id).catch(() => undefined);
      throw err;
    }
    return since(t0);
  }

  async function apiLifecycle(rt: RuntimeName): Promise<number> {
    const id = ctx.nextId("api", rt);
    const runtime = runtimeRecord(cd, rt);
    const spec = packJsonAny(specTypeUrls.spec, apiSpec(cd.namespace, id, ["/bin/true"]));
    const call = { timeoutMs: 20_000 };
    const t0 = performance.now();
    let taskCreated = false;
    await api.containers.create(
      { container: { id, image: ctx.image, runtime, spec, snapshotter: "overlayfs" } },
      call,
    );
    try {
      await api.tasks.create(
        {
          containerId: id,
          rootfs: rootfs.get(rt) ?? [],
          ...(runtime.options === undefined ? {} : { options: runtime.options }),
        },
        call,
      );
      taskCreated = true;
      const waited = api.tasks.wait({ containerId: id }, call);
      // An early Wait failure must not go unhandled while Start runs.
      waited.catch(() => undefined);
      await api.tasks.start({ containerId: id }, call);
      const exit = await waited;
      if (exit.exitStatus !== 0) throw new Error(`/bin/true exited ${exit.exitStatus}`);
      await api.tasks.delete({ containerId: id }, call);
      taskCreated = false;
    } finally {
      if (taskCreated) {
        await api.tasks.kill({ containerId: id, signal: 9 }, call).catch(() => undefined);
        await api.tasks.delete({ containerId: id }, call).catch(() => undefined);
      }
      await api.containers.delete({ id }, call);
    }
    return since(t0);
  }

  const viaCtr: Scenario = {
    name: "start",
    title: "Start latency: ctr run --rm /bin/true",
    metrics: [{ id: "ctr", label: "ctr run --rm /bin/true", unit: "ms", better: "lower" }],
    runs: ctx.sizes.startRuns,
    warmup: ctx.sizes.warmup,
    async sample(rt) {
      return { values: { ctr: await ctrRun(rt) } };
    },
  };
  const viaApi: Scenario = {
    name: "start",
    title: "Start latency: containerd API create+start+wait+delete of /bin/true",
    metrics: [{ id: "api", label: "API create+start+wait+delete", unit: "ms", better: "lower" }],
    runs: ctx.sizes.startRuns,
    warmup: ctx.sizes.warmup,
    async setup(rt) {
      const key = snapshotKey(rt);
      await ctrOk(cd, ["snapshots", "prepare", key, busyboxImageArchive().diffId]);
      const r = await ctrOk(cd, ["snapshots", "mounts", join(cd.dir, "unused"), key]);
      rootfs.set(
        rt,
        r.stdout
          .split("\n")
          .filter(Boolean)
          .map((l) => parseMountCommand(l)),
      );
    },
    async sample(rt) {
      return { values: { api: await apiLifecycle(rt) } };
    },
    async teardown(rt) {
      await ctrOk(cd, ["snapshots", "rm", snapshotKey(rt)]);
    },
  };
  return [viaCtr, viaApi];
}
