// Wrong requests to tsshim as ctr and the containerd API show them: the
// errdefs class containerd prints (not found, already exists, failed
// precondition) with a message naming the process; and a broken config.json
// is refused with an error naming the field, leaving nothing behind.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { AnySchema, FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { status as grpcStatus } from "@grpc/grpc-js";
import { specTypeUrls, unpackJsonAny } from "../../src/api/typeurl.js";
import type { Containerd } from "../helpers/containerd.js";
import { closeFileContainerd, openFileContainerd } from "../helpers/file-containerd.js";
import type { ContainerdClient } from "../helpers/grpc.js";
import { assertNoLeaks, type LeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let api: ContainerdClient;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  ({ cd, api, image, snapshot } = await openFileContainerd());
});

after(() => closeFileContainerd(api, cd));

const tsshim = (): string[] => cd.runtimeFlags("tsshim");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The gRPC status of a rejected call. */
async function rejection(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { code?: unknown; details?: unknown };
    assert.equal(typeof e.code, "number", String(err));
    return { code: e.code as number, details: String(e.details) };
  }
  assert.fail("the call succeeded");
}

async function removeTask(id: string): Promise<void> {
  await cd.ctr(["task", "kill", "-a", "-s", "SIGKILL", id]).catch(() => undefined);
  await api.tasks.wait({ containerId: id }, { timeoutMs: 10_000 }).catch(() => undefined);
  await cd.ctr(["task", "rm", "-f", id]);
  const rm = await cd.ctr(["container", "rm", id]);
  assert.equal(rm.code, 0, `container rm ${id}: ${rm.stderr}`);
}

test("wrong states and unknown ids get containerd's error classes", async () => {
  const run = "wrong-running";
  const done = "wrong-stopped";
  assert.equal((await cd.ctr(["run", "-d", ...tsshim(), image, run, "sleep", "1000"])).code, 0);
  assert.equal((await cd.ctr(["run", "-d", ...tsshim(), image, done, "true"])).code, 0);
  try {
    assert.equal((await api.tasks.wait({ containerId: done }, { timeoutMs: 10_000 })).exitStatus, 0);

    // exec into a stopped task
    const ex = await cd.ctr(["task", "exec", "--exec-id", "e1", done, "true"]);
    assert.equal(ex.code, 1);
    assert.match(
      ex.stderr,
      /^ctr: cannot exec in container "wrong-stopped": it is stopped: failed precondition$/m,
    );

    // start twice: ctr refuses in containerd (the task exists); the API reaches the shim
    const st = await cd.ctr(["task", "start", run]);
    assert.match(st.stderr, /^ctr: task wrong-running: already exists$/m);
    const again = await rejection(api.tasks.start({ containerId: run }, { timeoutMs: 5000 }));
    assert.equal(again.code, grpcStatus.FAILED_PRECONDITION);
    assert.match(again.details, /cannot start container "wrong-running": it is running/);

    // delete of a running task
    const rm = await cd.ctr(["task", "rm", run]);
    assert.match(rm.stderr, /^ctr: task must be stopped before deletion: running: failed precondition$/m);
    const del = await rejection(api.tasks.delete({ containerId: run }, { timeoutMs: 5000 }));
    assert.equal(del.code, grpcStatus.FAILED_PRECONDITION);
    assert.match(del.details, /cannot delete container "wrong-running": it is running/);

    // unknown exec ids
    const kill = await cd.ctr(["task", "kill", "--exec-id", "nope", run]);
    assert.match(kill.stderr, /^ctr: process "nope" does not exist in container wrong-running: not found$/m);
    const rmExec = await cd.ctr(["task", "rm", "--exec-id", "nope", run]);
    assert.match(rmExec.stderr, /process "nope" does not exist in container wrong-running: not found$/m);
    const startExec = await rejection(
      api.tasks.start({ containerId: run, execId: "nope" }, { timeoutMs: 5000 }),
    );
    assert.equal(startExec.code, grpcStatus.NOT_FOUND);

    // a second exec with an id in use
    const bg = cd.spawnCtr(["task", "exec", "--exec-id", "dup", run, "sleep", "1000"]);
    const bgExit = new Promise((r) => bg.once("close", r));
    const deadline = Date.now() + 10_000;
    while (!(await cd.ctr(["task", "ps", run])).stdout.includes("ExecID:dup") && Date.now() < deadline)
      await sleep(50);
    const dup = await cd.ctr(["task", "exec", "--exec-id", "dup", run, "true"]);
    assert.match(dup.stderr, /^ctr: exec "dup" already exists in wrong-running: already exists$/m);
    await cd.ctr(["task", "kill", "--exec-id", "dup", "-s", "SIGKILL", run]);
    await bgExit;

    // signals and pause/resume on a stopped task
    const k = await cd.ctr(["task", "kill", "-s", "SIGKILL", done]);
    assert.match(k.stderr, /^ctr: process "wrong-stopped" already finished: not found$/m);
    const p = await cd.ctr(["task", "pause", done]);
    assert.match(
      p.stderr,
      /^ctr: cannot pause container "wrong-stopped": it is stopped: failed precondition$/m,
    );
    const r = await cd.ctr(["task", "resume", run]);
    assert.match(
      r.stderr,
      /^ctr: cannot resume container "wrong-running": it is running: failed precondition$/m,
    );

    // the refused requests changed nothing
    const ls = await cd.ctr(["task", "ls"]);
    assert.match(ls.stdout, /^wrong-running\s+\d+\s+RUNNING$/m);
    assert.match(ls.stdout, /^wrong-stopped\s+\d+\s+STOPPED$/m);
  } finally {
    await removeTask(run);
    await removeTask(done);
  }
});

/** A container record made by `ctr container create` (so it has a snapshot), then its spec replaced. */
async function containerWithSpec(id: string, edit: (spec: Record<string, unknown>) => void): Promise<void> {
  const c = await cd.ctr(["container", "create", ...tsshim(), image, id, "echo", "should-not-run"]);
  assert.equal(c.code, 0, c.stderr);
  const got = (await api.containers.get({ id }, { timeoutMs: 5000 })).container!;
  const spec = unpackJsonAny(got.spec!, specTypeUrls.spec) as Record<string, unknown>;
  edit(spec);
  const value = new TextEncoder().encode(JSON.stringify(spec));
  await api.containers.update(
    {
      container: { ...got, spec: create(AnySchema, { typeUrl: got.spec!.typeUrl, value }) },
      updateMask: create(FieldMaskSchema, { paths: ["spec"] }),
    },
    { timeoutMs: 5000 },
  );
}

function bundleDir(id: string): string {
  return join(cd.state, "io.containerd.runtime.v2.task", cd.namespace, id);
}

const badSpecs: {
  name: string;
  edit: (spec: Record<string, unknown>) => void;
  field: RegExp;
  /** containerd's rendering of the status code */
  cls: string;
}[] = [
  {
    name: "empty process.args",
    edit: (s) => {
      (s["process"] as Record<string, unknown>)["args"] = [];
    },
    field: /process\.args/,
    cls: "invalid argument",
  },
  {
    name: "an unknown namespace type",
    edit: (s) => {
      const linux = s["linux"] as { namespaces: { type: string }[] };
      linux.namespaces.push({ type: "bogus" });
    },
    field: /linux\.namespaces\[\d+\]\.type/,
    cls: "invalid argument",
  },
  {
    name: "a relative mount destination",
    edit: (s) => {
      (s["mounts"] as unknown[]).push({ destination: "relative/dir", type: "tmpfs", source: "tmpfs" });
    },
    field: /mounts\[\d+\]\.destination/,
    cls: "invalid argument",
  },
  {
    // valid as a spec; fails late, after the rootfs is mounted and the cgroup made
    name: "a namespace path that does not exist",
    edit: (s) => {
      const linux = s["linux"] as { namespaces: { type: string; path?: string }[] };
      const net = linux.namespaces.find((n) => n.type === "network");
      assert.ok(net !== undefined);
      net.path = "/nonexistent/ns/net";
    },
    field: /\/nonexistent\/ns\/net.*ENOENT/,
    cls: "unknown",
  },
];

for (const [i, bad] of badSpecs.entries()) {
  test(`config.json with ${bad.name}: ctr task start fails naming the field, nothing is left`, async () => {
    const id = `badspec${i}`;
    await containerWithSpec(id, bad.edit);
    try {
      const st = await cd.ctr(["task", "start", id]);
      assert.equal(st.code, 1, st.stdout);
      assert.match(st.stderr, new RegExp(`^ctr: failed to create shim task: .*: ${bad.cls}$`, "m"));
      assert.match(st.stderr, bad.field);
      assert.equal(existsSync(bundleDir(id)), false, "the bundle was removed");
      const ls = await cd.ctr(["task", "ls", "-q"]);
      assert.equal(ls.stdout, "");
    } finally {
      const rm = await cd.ctr(["container", "rm", id]);
      assert.equal(rm.code, 0, rm.stderr);
    }
    await assertNoLeaks(snapshot);
  });
}

test("a spec that is not JSON: containerd refuses Tasks.Create before any shim starts", async () => {
  const id = "badjson";
  await containerWithSpec(id, () => undefined);
  const got = (await api.containers.get({ id }, { timeoutMs: 5000 })).container!;
  await api.containers.update(
    {
      container: {
        ...got,
        spec: create(AnySchema, {
          typeUrl: got.spec!.typeUrl,
          value: new TextEncoder().encode('{"ociVersion": '),
        }),
      },
      updateMask: create(FieldMaskSchema, { paths: ["spec"] }),
    },
    { timeoutMs: 5000 },
  );
  try {
    const err = await rejection(api.tasks.create({ containerId: id }, { timeoutMs: 15_000 }));
    assert.match(err.details, /unexpected end of JSON input/);
    // containerd 1.6 leaves the bundle dir, empty (it does the same with runc)
    const dir = bundleDir(id);
    assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
  } finally {
    await cd.ctr(["container", "rm", id]);
  }
  await assertNoLeaks(snapshot);
});

test("nothing is left behind", async () => {
  await assertNoLeaks(snapshot);
});
