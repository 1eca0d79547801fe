// Logging and protocol forms containerd can ask of a shim beyond FIFOs:
// a binary:// logging driver (containerd's protocol: stdout and stderr on fds
// 3 and 4, a ready fd 5, CONTAINER_ID and CONTAINER_NAMESPACE in its env), and
// the containerd.task.v3.Task service that containerd 2.x speaks.
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ConnectRequestSchema,
  StateRequestSchema,
  Task as TaskV3,
} from "../../src/api/gen/containerd/task/v3/shim_pb.js";
import { Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import { TtrpcClient } from "../../src/ttrpc/client.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  cd = await startContainerd();
  image = await importBusyboxImage(cd);
  snapshot = takeLeakSnapshot(cd);
});

after(async () => {
  if (existsSync(cd.dir)) await cd.stop();
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("binary:// logging driver gets stdout on fd 3, stderr on fd 4, signals ready on fd 5", async () => {
  const out = join(cd.dir, "driver");
  const driver = join(cd.dir, "log-driver.sh");
  writeFileSync(
    driver,
    `#!/bin/sh
# args: --prefix X (from the URI query)
echo "args=$*" > ${out}.args
/usr/bin/env > ${out}.env
cat <&3 5>&- > ${out}.stdout &
cat <&4 5>&- > ${out}.stderr &
exec 5>&-
wait
echo done > ${out}.done
`,
  );
  chmodSync(driver, 0o755);
  const r = await cd.ctr(
    [
      "run",
      "--rm",
      "--log-uri",
      `binary://${driver}?prefix=x`,
      ...cd.runtimeFlags("tsshim"),
      image,
      "logged",
      "sh",
      "-c",
      "echo to-stdout; echo to-stderr >&2; exit 3",
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 3, r.stderr);
  await waitFor("the driver to finish", () => existsSync(`${out}.done`));
  assert.equal(readFileSync(`${out}.stdout`, "utf8"), "to-stdout\n");
  assert.equal(readFileSync(`${out}.stderr`, "utf8"), "to-stderr\n");
  assert.equal(readFileSync(`${out}.args`, "utf8"), "args=prefix x\n");
  // Exactly containerd's two variables (the shell adds only its own PWD): nothing of the shim's env.
  const env = readFileSync(`${out}.env`, "utf8").trim().split("\n").sort();
  assert.deepEqual(
    env.filter((l) => !l.startsWith("PWD=")),
    [`CONTAINER_ID=logged`, `CONTAINER_NAMESPACE=${cd.namespace}`],
  );
  await assertNoLeaks(snapshot);
});

test("the shim serves containerd.task.v3.Task with the same behaviour as v2", async () => {
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, "v3", "sleep", "3600"]);
  assert.equal(run.code, 0, run.stderr);
  const address = readFileSync(
    join(cd.state, "io.containerd.runtime.v2.task", cd.namespace, "v3", "address"),
    "utf8",
  );
  const client = await TtrpcClient.connect(address.replace(/^unix:\/\//, ""));
  try {
    const task = client.service(TaskV3);
    const c = await task.connect(create(ConnectRequestSchema, { id: "v3" }), { timeoutMs: 5_000 });
    assert.ok(c.shimPid > 0 && c.taskPid > 0);
    const st = await task.state(create(StateRequestSchema, { id: "v3" }), { timeoutMs: 5_000 });
    assert.equal(st.status, Status.RUNNING);
    assert.equal(st.pid, c.taskPid);
  } finally {
    client.close();
  }
  await cd.ctr(["task", "kill", "-s", "SIGKILL", "v3"]);
  assert.equal((await cd.ctr(["task", "rm", "-f", "v3"])).code, 0);
  assert.equal((await cd.ctr(["container", "rm", "v3"])).code, 0);
  await assertNoLeaks(snapshot);
});
