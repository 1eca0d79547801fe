// Container operations the scenarios share: ctr calls that fail loudly,
// waits on task state through the API, bulk removal, bounded concurrency.

import { Status } from "../src/api/gen/containerd/v1/types/task_pb.js";
import type { Containerd, CtrResult, RuntimeName } from "../test/helpers/containerd.js";
import type { ContainerdClient } from "../test/helpers/grpc.js";
import { sleep } from "../test/helpers/proc.js";
import type { BenchContext } from "./context.js";
import { shimPids } from "./shims.js";

/** Milliseconds since `t0` (a performance.now() reading). */
export function since(t0: number): number {
  return performance.now() - t0;
}

export function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.trim();
}

/** `ctr <args>` that must exit 0; throws with ctr's stderr otherwise. */
export async function ctrOk(cd: Containerd, args: readonly string[], timeoutMs = 20_000): Promise<CtrResult> {
  const r = await cd.ctr(args, { timeoutMs });
  if (r.code !== 0) {
    throw new Error(`ctr ${args.join(" ")}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r;
}

/** `ctr run -d` of `args` in a new container `id` on runtime `rt`. */
export async function runDetached(
  ctx: BenchContext,
  rt: RuntimeName,
  id: string,
  args: readonly string[],
  extraFlags: readonly string[] = [],
): Promise<void> {
  await ctrOk(ctx.cd, ["run", "-d", ...ctx.cd.runtimeFlags(rt), ...extraFlags, ctx.image, id, ...args]);
}

function notFound(r: CtrResult): boolean {
  return /not found|no such/i.test(r.stderr);
}

/** Kills and deletes the task (if any) and the container with its snapshot. */
export async function removeContainer(cd: Containerd, id: string): Promise<void> {
  const task = await cd.ctr(["task", "rm", "-f", id], { timeoutMs: 20_000 });
  if (task.code !== 0 && !notFound(task)) {
    throw new Error(`ctr task rm -f ${id}: exit ${task.code}: ${task.stderr.trim()}`);
  }
  const c = await cd.ctr(["containers", "rm", id], { timeoutMs: 20_000 });
  if (c.code !== 0 && !notFound(c))
    throw new Error(`ctr containers rm ${id}: exit ${c.code}: ${c.stderr.trim()}`);
}

/** Runs `fn` over `items` with at most `limit` at a time; rejects with the first error after all settled. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
  return out;
}

/** Removes every given container, several at a time; throws after trying all if any failed. */
export async function removeAll(cd: Containerd, ids: readonly string[], limit = 8): Promise<void> {
  await mapLimit(ids, limit, (id) => removeContainer(cd, id));
}

/** Removes every task and container in the namespace (after a scenario, or after a failure). */
export async function purgeNamespace(cd: Containerd): Promise<string[]> {
  const tasks = await ctrOk(cd, ["task", "ls", "-q"]);
  const containers = await ctrOk(cd, ["containers", "ls", "-q"]);
  const ids = [...new Set([...tasks.stdout.split("\n"), ...containers.stdout.split("\n")].filter(Boolean))];
  await removeAll(cd, ids);
  return ids;
}

/** Polls Tasks.List until every id has a RUNNING task; throws with the states seen at the deadline. */
export async function waitAllRunning(
  api: ContainerdClient,
  ids: readonly string[],
  timeoutMs: number,
  pollMs = 10,
): Promise<void> {
  const want = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  let states = new Map<string, Status>();
  for (;;) {
    const list = await api.tasks.list({}, { timeoutMs: 10_000 });
    states = new Map(list.tasks.filter((t) => want.has(t.id)).map((t) => [t.id, t.status]));
    if (ids.every((id) => states.get(id) === Status.RUNNING)) return;
    if (Date.now() >= deadline) break;
    await sleep(pollMs);
  }
  const bad = ids.filter((id) => states.get(id) !== Status.RUNNING);
  const shown = bad.slice(0, 5).map((id) => `${id}=${Status[states.get(id) ?? Status.UNKNOWN]}`);
  throw new Error(
    `${bad.length} of ${ids.length} tasks not RUNNING after ${timeoutMs} ms: ${shown.join(", ")}`,
  );
}

/**
 * Waits until no more shims serve this containerd than `before` did: those
 * of the containers just deleted have exited. Counted, not matched by pid,
 * because a runtime may replace an idle spare shim with a new one.
 */
export async function waitShimsGone(
  cd: Containerd,
  before: ReadonlySet<number>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = shimPids(cd.address);
    if (now.length <= before.size) return;
    if (Date.now() >= deadline) {
      const extra = now.filter((p) => !before.has(p));
      throw new Error(
        `${now.length} shims still running ${timeoutMs} ms after their containers were deleted (${before.size} before): new ${extra.join(", ")}`,
      );
    }
    await sleep(25);
  }
}
