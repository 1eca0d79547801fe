// The daemon can boot from the V8 startup snapshot `npm run build` makes
// (dist/snapshot/daemon-<node>.blob): with TSSHIM_SNAPSHOT=1 in containerd's
// environment its shims run from it and serve containers; by default (and
// with TSSHIM_SNAPSHOT=0) they boot from the bundle (the snapshot costs every
// shim ~6 MiB of PSS). How a shim booted
// is in its exec-time environment (TSSHIM_BOOT): a spare that took a
// container has a shim's command line, not its own.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ConnectRequestSchema,
  ShutdownRequestSchema,
  Task,
} from "../../src/api/gen/containerd/task/v2/shim_pb.js";
import { TtrpcClient } from "../../src/ttrpc/client.js";
import { type Containerd, isSpareOf, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { listPids, processCmdline, processEnviron, sleep } from "../helpers/proc.js";

const ROOT = new URL("../../../", import.meta.url).pathname;
const WRAPPER = join(ROOT, "bin", "containerd-shim-tsshim-v2");
const BLOB = join(ROOT, "dist", "snapshot", `daemon-${process.version}.blob`);
const ID = "from-snapshot";

let cd: Containerd;

before(async () => {
  cd = await startContainerd({ env: { TSSHIM_SNAPSHOT: "1" } });
});

after(async () => {
  if (existsSync(cd.dir)) await cd.stop();
});

test("TSSHIM_SNAPSHOT=1: containerd's shim daemon runs from the startup snapshot and serves the container", async () => {
  const image = await importBusyboxImage(cd);
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, ID, "sleep", "3600"]);
  assert.equal(run.code, 0, run.stderr);
  try {
    const bundle = join(cd.state, "io.containerd.runtime.v2.task", cd.namespace, ID);
    const pid = Number.parseInt(readFileSync(join(bundle, "shim.pid"), "utf8"), 10);
    assert.equal(processEnviron(pid)?.get("TSSHIM_BOOT"), "snapshot");
    assert.ok(existsSync(BLOB), `npm run build makes ${BLOB}`);
    const exec = await cd.ctr(["task", "exec", "--exec-id", "hi", ID, "echo", "served"]);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout.trim(), "served");
  } finally {
    await cd.ctr(["task", "kill", "-s", "SIGKILL", ID]);
    await cd.ctr(["task", "rm", "-f", ID]);
    await cd.ctr(["container", "rm", ID]);
  }
});

test("TSSHIM_SNAPSHOT=0: the daemon runs from the bundle and answers", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-nosnap-"));
  const bundle = join(dir, "bundle");
  const sockets = join(dir, "s");
  spawnSync("mkdir", ["-p", bundle]);
  writeFileSync(join(bundle, "config.json"), "{}");
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    TSSHIM_SNAPSHOT: "0",
    TSSHIM_SOCKET_DIR: sockets,
  };
  let pid = 0;
  try {
    const r = spawnSync(
      WRAPPER,
      ["-namespace", "t", "-id", "c1", "-address", join(dir, "none.sock"), "start"],
      {
        cwd: bundle,
        env,
        input: "",
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    pid = Number.parseInt(readFileSync(join(bundle, "shim.pid"), "utf8"), 10);
    assert.equal(processEnviron(pid)?.get("TSSHIM_BOOT"), "bundle");
    const client = await TtrpcClient.connect(r.stdout.trim().replace(/^unix:\/\//, ""));
    try {
      const task = client.service(Task);
      // No container yet: any answer (NotFound included) proves the daemon serves.
      const answer = await task
        .connect(create(ConnectRequestSchema, { id: "c1" }), { timeoutMs: 10_000 })
        .then(() => "ok")
        .catch((err: unknown) => String(err));
      assert.match(answer, /^ok$|not ?found/i);
      await task.shutdown(create(ShutdownRequestSchema, { id: "c1" })).catch(() => undefined);
    } finally {
      client.close();
    }
    for (let i = 0; i < 100 && processCmdline(pid) !== undefined; i++) await sleep(50);
    assert.equal(processCmdline(pid), undefined, "the daemon exits after Shutdown");
  } finally {
    if (pid > 0 && processCmdline(pid) !== undefined) process.kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  // The spare the launcher left for the next start sees its socket gone and leaves.
  const spares = () => listPids().filter((p) => isSpareOf(processCmdline(p) ?? [], join(dir, "none.sock")));
  for (let i = 0; i < 100 && spares().length > 0; i++) await sleep(50);
  assert.deepEqual(spares(), []);
});
