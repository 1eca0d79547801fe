// The harness against the reference runtimes: a private containerd, the
// locally built busybox image, `ctr run` with runc and with crun, exit codes,
// no leaks, and a stop() that leaves nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Containerd, repoRoot, startContainerd, withContainerdLog } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, findLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { cgroupHierarchies, listPids, mountsUnder, processCmdline } from "../helpers/proc.js";

let cd: Containerd;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  cd = await startContainerd();
  image = await importBusyboxImage(cd);
  snapshot = takeLeakSnapshot(cd);
});

after(async () => {
  // stop() is itself under test below; this only catches an earlier failure.
  if (existsSync(cd.dir)) await cd.stop();
});

test("containerd runs with only PATH (repo bin first) and HOME in its environment", () => {
  const env = readFileSync(`/proc/${cd.pid}/environ`, "utf8").split("\0").filter(Boolean);
  assert.deepEqual(env.map((e) => e.split("=")[0]).sort(), ["HOME", "PATH"]);
  const path = env.find((e) => e.startsWith("PATH="))!.slice(5);
  assert.equal(path.split(":")[0], join(repoRoot(), "bin"));
  assert.ok(existsSync(`${cd.dir}/containerd.sock.ttrpc`), "ttrpc socket next to the grpc socket");
  const config = readFileSync(cd.configPath, "utf8");
  assert.match(config, /runtime_type = "io\.containerd\.tsshim\.v2"/);
  assert.doesNotMatch(config, /\/run\/containerd|\/var\/lib\/containerd|\/opt\/containerd/);
});

test("withContainerdLog appends containerd's log tail to a failure", async () => {
  await assert.rejects(
    withContainerdLog(cd, async () => {
      throw new Error("boom");
    }),
    /^Error: boom\n--- containerd log \(.*containerd\.log\), last \d+ lines ---\n(.|\n)*msg=/,
  );
});

test("the busybox image is imported under its predictable name", async () => {
  const r = await cd.ctr(["image", "ls"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /docker\.io\/tsshim\/busybox:test\s+application\/vnd\.oci\.image\.manifest\.v1\+json/,
  );
});

for (const runtime of ["runc", "crun"] as const) {
  test(`${runtime}: ctr run --rm echo hi prints exactly "hi\\n" and exit codes propagate`, async () => {
    const hi = await cd.ctr([
      "run",
      "--rm",
      ...cd.runtimeFlags(runtime),
      image,
      `hi-${runtime}`,
      "echo",
      "hi",
    ]);
    assert.equal(hi.stderr, "");
    assert.equal(hi.code, 0);
    assert.equal(hi.stdout, "hi\n");

    const seven = await cd.ctr([
      "run",
      "--rm",
      ...cd.runtimeFlags(runtime),
      image,
      `x-${runtime}`,
      "sh",
      "-c",
      "exit 7",
    ]);
    assert.equal(seven.code, 7, seven.stderr);

    const applets = await cd.ctr([
      "run",
      "--rm",
      ...cd.runtimeFlags(runtime),
      image,
      `a-${runtime}`,
      "sh",
      "-c",
      "id -u; cat /etc/passwd | wc -l; ls /bin/sha256sum; hostname >/dev/null && echo ok",
    ]);
    assert.equal(applets.code, 0, applets.stderr);
    assert.equal(applets.stdout, "0\n2\n/bin/sha256sum\nok\n");
    await assertNoLeaks(snapshot);
  });

  test(`${runtime}: a detached container is really run by ${runtime}, with FIFOs and state in the temp dir`, async () => {
    const id = `d-${runtime}`;
    const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags(runtime), image, id, "sleep", "60"]);
    assert.equal(run.code, 0, run.stderr);
    // The runtime's own state dir names the container: it was this runtime.
    const list = listWith(runtime, join(cd.dir, runtime, cd.namespace));
    assert.match(list, new RegExp(`^${id}\\s`, "m"));
    assert.ok(readdirSync(cd.fifoDir).length > 0, "ctr's FIFOs live in the temp dir");
    assert.equal(existsSync(join("/run/containerd/runc", cd.namespace)), false);

    const rm = await cd.ctr(["task", "rm", "-f", id]);
    assert.equal(rm.code, 0, rm.stderr);
    const crm = await cd.ctr(["containers", "rm", id]);
    assert.equal(crm.code, 0, crm.stderr);
    await assertNoLeaks(snapshot);
  });
}

test("ctr container create, task start -d and task exec work with the FIFOs in the temp dir", async () => {
  const id = "split";
  // Other test files may have used containerd's default FIFO dir: this test must add nothing there.
  const defaultFifos = (): string[] =>
    existsSync("/run/containerd/fifo") ? readdirSync("/run/containerd/fifo") : [];
  const fifosBefore = defaultFifos();
  const create = await cd.ctr(["containers", "create", ...cd.createFlags("runc"), image, id, "sleep", "60"]);
  assert.equal(create.code, 0, create.stderr);
  const start = await cd.ctr(["task", "start", "-d", id]);
  assert.equal(start.code, 0, start.stderr);
  const exec = await cd.ctr(["task", "exec", "--exec-id", "e1", id, "sh", "-c", "cat; echo done; exit 5"], {
    stdin: "piped\n",
  });
  assert.equal(exec.stdout, "piped\ndone\n");
  assert.equal(exec.code, 5, exec.stderr);
  assert.deepEqual(defaultFifos(), fifosBefore, "nothing new in containerd's default FIFO dir");
  const leaks = await findLeaks(snapshot, 0);
  assert.ok(
    leaks.some((l) => l.kind === "runtime-state" && l.what === `/run/containerd/runc/${cd.namespace}/${id}`),
    "runc's state of a created container is seen (ctr create cannot redirect it)",
  );
  assert.equal((await cd.ctr(["task", "rm", "-f", id])).code, 0);
  assert.equal((await cd.ctr(["containers", "rm", id])).code, 0);
  await assertNoLeaks(snapshot);
});

test("stop() leaves nothing: no dir, mounts, shims, cgroups", async () => {
  // One container still running when stop() is called.
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("runc"), image, "left", "sleep", "60"]);
  assert.equal(run.code, 0, run.stderr);
  const { dir, address, namespace } = cd;
  const sockets = cd.shimSockets();
  assert.equal(sockets.length, 1, "the running shim's socket is known");
  await cd.stop();
  for (const s of sockets) assert.equal(existsSync(s), false, `shim socket ${s} removed`);
  assert.equal(existsSync(dir), false, "temp dir removed");
  assert.deepEqual(mountsUnder(dir), []);
  const shims = listPids().filter((p) => processCmdline(p)?.includes(address));
  assert.deepEqual(shims, [], "no process refers to the containerd address");
  for (const h of cgroupHierarchies())
    assert.equal(existsSync(join(h, namespace)), false, `${h}/${namespace}`);
});

function listWith(runtime: "runc" | "crun", root: string): string {
  const bin = runtime === "runc" ? "/usr/bin/runc" : "/usr/bin/crun";
  const r = spawnSync(bin, ["--root", root, "list"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}
