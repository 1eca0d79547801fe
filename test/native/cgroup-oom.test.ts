// OOM events: on this machine's v1 memory controller a process that allocates past the limit is
// killed and the eventfd watch (native, in the libuv loop) publishes one TaskOOM; removing the
// cgroup (which also wakes the eventfd) publishes nothing. The v2 path (memory.events via
// inotify) is driven on a plain file, since the cgroup2 tree here has no memory controller.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { pino } from "pino";
import { TaskOOMSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import { CgroupManager, detectLayout } from "../../src/oci/cgroups/index.js";
import { OomWatcher } from "../../src/shim/oom.js";
import type { ShimContext } from "../../src/shim/shim-container.js";

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Published = { topic: string; containerId: string };

function fakeContext(): { ctx: ShimContext; published: Published[] } {
  const published: Published[] = [];
  const events = {
    publish(topic: string, typeUrl: string, payload: Uint8Array) {
      assert.equal(typeUrl, "containerd.events.TaskOOM");
      published.push({ topic, containerId: fromBinary(TaskOOMSchema, payload).containerId });
    },
  };
  const ctx = { namespace: "test", log: pino({ level: "silent" }), events } as unknown as ShimContext;
  return { ctx, published };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await wait(10);
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

describe("OOM watch", () => {
  it("v1: a hog past memory.limit_in_bytes is killed and one TaskOOM is published", async (t) => {
    const layout = detectLayout();
    if (!layout.v1.some((h) => h.controllers.includes("memory"))) {
      t.skip("no v1 memory controller on this host");
      return;
    }
    const top = `/tsshim-test-oom-${process.pid}`;
    const mgr = new CgroupManager({ cgroupsPath: `${top}/c`, id: "unused", layout });
    cleanups.push(async () => {
      await mgr.kill("SIGKILL").catch(() => {});
      await mgr.destroy().catch(() => {});
    });
    mgr.create();
    mgr.applyResources({ memory: { limit: 16 << 20 } });
    const { ctx, published } = fakeContext();
    const w = OomWatcher.start("hogger", mgr, ctx);
    assert.ok(w !== undefined);
    const procs = mgr.procsPaths().join(" ");
    const hog = spawn(
      "sh",
      ["-c", `for f in ${procs}; do echo $$ > $f; done; x=0123456789; while :; do x=$x$x; done`],
      {
        env,
        stdio: "ignore",
      },
    );
    const exit = await new Promise<NodeJS.Signals | null>((resolve) => hog.on("exit", (_c, s) => resolve(s)));
    assert.equal(exit, "SIGKILL", "the kernel's OOM killer ended the hog");
    await until(() => published.length > 0, 2000);
    assert.deepEqual(published, [{ topic: "/tasks/oom", containerId: "hogger" }]);
    w.check();
    assert.equal(published.length, 1, "check() does not repeat a kill already reported");
    await mgr.destroy();
    await wait(100);
    assert.equal(published.length, 1, "cgroup removal is not an OOM");
    w.stop();
    w.stop();
  });

  it("v2: memory.events oom_kill increments publish TaskOOM (inotify), check() reports a pending one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsshim-oom-v2-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const events = join(dir, "memory.events");
    const write = (kills: number) =>
      writeFileSync(events, `low 0\nhigh 0\nmax 3\noom ${kills}\noom_kill ${kills}\noom_group_kill 0\n`);
    write(0);
    const { ctx, published } = fakeContext();
    const fake = { memoryDir: () => ({ version: 2 as const, dir }) } as unknown as CgroupManager;
    const w = OomWatcher.start("v2c", fake, ctx);
    assert.ok(w !== undefined);
    write(1);
    await until(() => published.length > 0, 2000);
    assert.deepEqual(published, [{ topic: "/tasks/oom", containerId: "v2c" }]);
    w.stop();
    write(2);
    w.check(); // the exit path's synchronous look: publishes what inotify has not
    assert.equal(published.length, 2);
    w.check();
    assert.equal(published.length, 2);
  });
});
