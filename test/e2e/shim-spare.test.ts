// The spare daemon: `start` is answered by a shim that booted before its
// container (native/launcher + src/shim/spare.ts). What an operator sees: the
// next container's shim is forked off the spare that was waiting, detached,
// with a shim's command line, and outlives the spare; the spare stays (with
// TSSHIM_FORK=0 it becomes the shim and a new one replaces it); a container
// joining a running group leaves the spare alone; a dead or stale spare, garbage on its socket, an idle
// timeout or TSSHIM_SPARE=0 never cost a container its start.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ConnectRequestSchema, Task } from "../../src/api/gen/containerd/task/v2/shim_pb.js";
import { DEFAULT_SOCKET_DIR, socketPath } from "../../src/shim/address.js";
import { spareSocketPath } from "../../src/shim/spare-path.js";
import { decodeReply, encodeRequest } from "../../src/shim/spare-protocol.js";
import { TtrpcClient } from "../../src/ttrpc/client.js";
import { type Containerd, isShimOf, isSpareOf, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { listPids, processCmdline, processEnviron, sleep } from "../helpers/proc.js";

let cd: Containerd;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  cd = await startContainerd();
  image = await importBusyboxImage(cd);
  snapshot = takeLeakSnapshot(cd);
});

after(async () => {
  await cd?.stop();
});

function sparePids(of: Containerd = cd): number[] {
  return listPids().filter((p) => isSpareOf(processCmdline(p) ?? [], of.address));
}

/** Waits until exactly one spare listens (the launcher starts it after a start). */
async function oneSpare(of: Containerd = cd): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const pids = sparePids(of);
    // Ready once booted: it names itself then.
    if (pids.length === 1 && comm(pids[0]!) === "tsshim-spare" && ready(spareSocketPath(of.address)))
      return pids[0]!;
    await sleep(25);
  }
  throw new Error(`expected one spare, found ${JSON.stringify(sparePids(of))}`);
}

function bundleFile(of: Containerd, id: string, file: string): string {
  return readFileSync(join(of.state, "io.containerd.runtime.v2.task", of.namespace, id, file), "utf8");
}

function shimPid(of: Containerd, id: string): number {
  return Number.parseInt(bundleFile(of, id, "shim.pid"), 10);
}

/** The sticky bit on its socket: the spare has booted (launcher.h). */
function ready(path: string): boolean {
  try {
    return (statSync(path).mode & 0o1000) !== 0;
  } catch {
    return false;
  }
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** `ctr run -d … sleep 3600` through tsshim on `of` (its busybox image `img`). */
async function runDetached(
  id: string,
  annotations: string[] = [],
  of: Containerd = cd,
  img: string = image,
): Promise<void> {
  const flags = annotations.flatMap((a) => ["--annotation", a]);
  const r = await of.ctr(["run", "-d", ...of.runtimeFlags("tsshim"), ...flags, img, id, "sleep", "3600"]);
  assert.equal(r.code, 0, r.stderr);
}

/** `ctr run --rm` of argv in a new container `id`, with tsshim. */
function runRm(of: Containerd, img: string, id: string, argv: string[]): ReturnType<Containerd["ctr"]> {
  return of.ctr(["run", "--rm", ...of.runtimeFlags("tsshim"), img, id, ...argv]);
}

async function remove(id: string, of: Containerd = cd): Promise<void> {
  await of.ctr(["task", "kill", "-a", "-s", "SIGKILL", id]).catch(() => undefined);
  for (let i = 0; i < 100; i++) {
    const r = await of.ctr(["task", "rm", id]);
    if (r.code === 0 || /not found/.test(r.stderr)) break;
    await sleep(50);
  }
  await of.ctr(["container", "rm", id]);
}

/** Field 4 (ppid) and 6 (session) of /proc/PID/stat. */
function parentAndSession(pid: number): { ppid: number; sid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(f[1]), sid: Number(f[3]) };
}

/** The shim pid the container's shim reports in Connect, as containerd asks it. */
async function connectShimPid(id: string): Promise<number> {
  const client = await TtrpcClient.connect(bundleFile(cd, id, "address").replace(/^unix:\/\//, ""));
  try {
    const c = await client.service(Task).connect(create(ConnectRequestSchema, { id }), { timeoutMs: 5_000 });
    return c.shimPid;
  } finally {
    client.close();
  }
}

test("the next container's shim is forked off the waiting spare, which stays the spare", async () => {
  await runDetached("first");
  // No spare waited for the first start: one was booted for it alone; by
  // default every spare boots lean from the bundle (TSSHIM_SNAPSHOT: below).
  assert.equal(processEnviron(shimPid(cd, "first"))?.get("TSSHIM_BOOT"), "bundle");
  const spare = await oneSpare();
  assert.equal(processEnviron(spare)?.get("TSSHIM_BOOT"), "bundle");
  await runDetached("second");
  await runDetached("third");
  try {
    const shims = [shimPid(cd, "second"), shimPid(cd, "third")];
    for (const [i, pid] of shims.entries()) {
      const id = i === 0 ? "second" : "third";
      assert.notEqual(pid, spare, "the spare forked the shim and stays");
      assert.equal(cd.shimDaemonPid(id), pid, "shim.pid names the process serving the container");
      const argv = processCmdline(pid) ?? [];
      assert.ok(isShimOf(argv, cd.address), argv.join(" "));
      assert.deepEqual(argv.slice(0, 5), [
        "containerd-shim-tsshim-v2",
        "-namespace",
        cd.namespace,
        "-id",
        id,
      ]);
      assert.equal(comm(pid), "containerd-shim");
      // Detached as a shim `start` spawned: its own session, not the spare's child.
      const { ppid, sid } = parentAndSession(pid);
      assert.equal(sid, pid);
      assert.notEqual(ppid, spare);
      assert.equal(processEnviron(pid)?.get("TSSHIM_BOOT"), "bundle");
      // Node read its pid at the spare's boot: Connect must say the shim's own.
      assert.equal(await connectShimPid(id), pid);
      const exec = await cd.ctr(["task", "exec", "--exec-id", "e1", id, "echo", "from-fork"]);
      assert.equal(exec.code, 0, exec.stderr);
      assert.equal(exec.stdout, "from-fork\n");
    }
    assert.equal(await oneSpare(), spare, "one spare, the same");
    // A forked shim does not depend on its spare.
    process.kill(spare, "SIGKILL");
    for (let i = 0; i < 100 && processCmdline(spare) !== undefined; i++) await sleep(20);
    const exec = await cd.ctr(["task", "exec", "--exec-id", "e2", "second", "echo", "still-here"]);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, "still-here\n");
  } finally {
    await remove("third");
    await remove("second");
    await remove("first");
  }
  await assertNoLeaks(snapshot);
});

/** The pids hierarchy: cgroup v1's pids controller, or a v2 root that offers it. */
function pidsRoot(): string {
  if (existsSync("/sys/fs/cgroup/pids/cgroup.procs")) return "/sys/fs/cgroup/pids";
  if (readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\s+/).includes("pids"))
    return "/sys/fs/cgroup";
  throw new Error("no pids controller on this host: the fork-failure test needs one");
}

test("a spare that cannot fork (pids limit) does not answer: the launcher boots the shim, the spare stays", async () => {
  // A start first: the test before killed the spare, the launcher boots the next.
  const warm = await cd.ctr(["run", "--rm", ...cd.runtimeFlags("tsshim"), image, "nofork-0", "true"]);
  assert.equal(warm.code, 0, warm.stderr);
  const spare = await oneSpare();
  const root = pidsRoot();
  const dir = join(root, `tsshim-test-nofork-${process.pid}`);
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, "cgroup.procs"), String(spare));
    // Every thread of the spare counts: one more task (a fork) is refused.
    writeFileSync(join(dir, "pids.max"), readFileSync(join(dir, "pids.current"), "utf8").trim());
    await runDetached("nofork-1");
    try {
      const pid = shimPid(cd, "nofork-1");
      assert.notEqual(pid, spare);
      const cgroups = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      assert.ok(!cgroups.includes("tsshim-test-nofork"), "booted by the launcher, not a fork of the spare");
      const exec = await cd.ctr(["task", "exec", "--exec-id", "e1", "nofork-1", "echo", "booted"]);
      assert.equal(exec.code, 0, exec.stderr);
      assert.equal(exec.stdout, "booted\n");
      assert.deepEqual(sparePids(), [spare], "the spare stays");
    } finally {
      await remove("nofork-1");
    }
  } finally {
    writeFileSync(join(root, "cgroup.procs"), String(spare));
    rmdirSync(dir);
  }
  await assertNoLeaks(snapshot);
});

test("TSSHIM_FORK=0: the waiting spare becomes the shim itself, and a new spare replaces it", async () => {
  const nofork = await startContainerd({ env: { TSSHIM_FORK: "0" } });
  try {
    const img = await importBusyboxImage(nofork);
    await runDetached("nf1", [], nofork, img);
    const spare = await oneSpare(nofork);
    await runDetached("nf2", [], nofork, img);
    assert.equal(shimPid(nofork, "nf2"), spare, "the waiting spare took the container");
    assert.equal(comm(spare), "containerd-shim");
    assert.notEqual(await oneSpare(nofork), spare);
  } finally {
    await nofork.stop();
  }
});

test("TSSHIM_WIRE=net: the daemon serves ttrpc with Node's net.Server, end to end", async () => {
  const viaNet = await startContainerd({ env: { TSSHIM_WIRE: "net" } });
  try {
    const img = await importBusyboxImage(viaNet);
    const r = await runRm(viaNet, img, "wire-net", ["sh", "-c", "echo hello; exit 3"]);
    assert.equal(r.stdout, "hello\n");
    assert.equal(r.code, 3);
  } finally {
    await viaNet.stop();
  }
});

test("a container that joins its group's running shim leaves the spare waiting", async () => {
  await runDetached("g1", ["io.tsshim.group=spare-test"]);
  const spare = await oneSpare();
  await runDetached("g2", ["io.tsshim.group=spare-test"]);
  try {
    assert.equal(bundleFile(cd, "g2", "address"), bundleFile(cd, "g1", "address"), "one shim for the group");
    assert.deepEqual(sparePids(), [spare], "the spare is still the spare");
  } finally {
    await remove("g2");
    await remove("g1");
  }
  await assertNoLeaks(snapshot);
});

test("a spare killed with SIGKILL: the next start still works and a new spare takes its socket", async () => {
  const spare = await oneSpare();
  process.kill(spare, "SIGKILL");
  for (let i = 0; i < 100 && processCmdline(spare) !== undefined; i++) await sleep(20);
  assert.ok(existsSync(spareSocketPath(cd.address)), "its socket file stays behind");
  const r = await cd.ctr(["run", "--rm", ...cd.runtimeFlags("tsshim"), image, "after-kill", "echo", "ok"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "ok\n");
  const next = await oneSpare();
  assert.notEqual(next, spare);
  await assertNoLeaks(snapshot);
});

function talkToSpare(bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(spareSocketPath(cd.address));
    const chunks: Buffer[] = [];
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.once("error", reject);
    sock.once("close", () => resolve(Buffer.concat(chunks)));
    sock.end(bytes);
  });
}

test("garbage on the spare's socket gets an error answer and the spare keeps serving", async () => {
  const spare = await oneSpare();
  const reply = decodeReply(await talkToSpare(Buffer.from([0x5a, 5, 0, 0, 0, ...Buffer.from("hello")])));
  assert.equal(reply.status, 1);
  assert.equal(reply.adopted, false);
  assert.match(Buffer.from(reply.output).toString(), /bad request: unknown record tag "Z"/);
  const truncated = decodeReply(await talkToSpare(Buffer.from([0x41, 0xff, 0, 0, 0, 0x61, 0x62])));
  assert.match(Buffer.from(truncated.output).toString(), /claims 255 bytes/);
  assert.deepEqual(sparePids(), [spare]);
  await runDetached("after-garbage");
  try {
    assert.equal(processCmdline(shimPid(cd, "after-garbage"))?.[4], "after-garbage");
  } finally {
    await remove("after-garbage");
  }
  assert.equal(await oneSpare(), spare);
  await assertNoLeaks(snapshot);
});

test("a start whose bundle is gone or broken fails with the reason and leaves no shim socket behind", async () => {
  // containerd killed during `start` removes the bundle when it comes back:
  // a request still queued at the spare finds none; a shim forked for it
  // fails half-way (a bundle that is not a directory fails the same way,
  // after the socket is bound) and must take its socket along.
  const spare = await oneSpare();
  const notADir = join(cd.dir, "bundle-is-a-file");
  writeFileSync(notADir, "");
  const cases = [
    { id: "bundle-gone", cwd: join(cd.dir, "no-such-bundle"), error: /the bundle \S+no-such-bundle is gone/ },
    { id: "bundle-file", cwd: notADir, error: /ENOTDIR.*bundle-is-a-file/ },
  ];
  for (const { id, cwd, error } of cases) {
    const request = encodeRequest({
      argv: [
        "containerd-shim-tsshim-v2",
        "-namespace",
        cd.namespace,
        "-id",
        id,
        "-address",
        cd.address,
        "start",
      ],
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
      cwd,
      stdin: new Uint8Array(),
      parentPid: 0,
    });
    const reply = decodeReply(await talkToSpare(request));
    assert.equal(reply.status, 1, id);
    assert.match(Buffer.from(reply.output).toString(), error);
    assert.equal(existsSync(socketPath(DEFAULT_SOCKET_DIR, cd.address, cd.namespace, id)), false, id);
  }
  assert.equal(await oneSpare(), spare);
  await assertNoLeaks(snapshot);
});

test("a spare not used within TSSHIM_SPARE_IDLE_MS leaves and removes its socket", async () => {
  const idle = await startContainerd({ env: { TSSHIM_SPARE_IDLE_MS: "1500" } });
  try {
    const img = await importBusyboxImage(idle);
    const r = await idle.ctr(["run", "--rm", ...idle.runtimeFlags("tsshim"), img, "idle-1", "true"]);
    assert.equal(r.code, 0, r.stderr);
    const spare = await oneSpare(idle);
    const path = spareSocketPath(idle.address);
    assert.equal(statSync(path).mode & 0o7777, 0o1600, "only root may talk to a spare; sticky: ready");
    for (let i = 0; i < 200 && processCmdline(spare) !== undefined; i++) await sleep(25);
    assert.equal(processCmdline(spare), undefined, "the idle spare exited");
    assert.equal(existsSync(path), false, "and removed its socket");
  } finally {
    await idle.stop();
  }
});

test("TSSHIM_SPARE=0: start runs the Node verb and no spare is made", async () => {
  const plain = await startContainerd({ env: { TSSHIM_SPARE: "0" } });
  try {
    const img = await importBusyboxImage(plain);
    const r = await runRm(plain, img, "plain-1", ["echo", "plain"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "plain\n");
    await sleep(300);
    assert.deepEqual(sparePids(plain), []);
    assert.equal(existsSync(spareSocketPath(plain.address)), false);
  } finally {
    await plain.stop();
  }
});

test("TSSHIM_SNAPSHOT=burst: a spare booted for a waiting start uses the snapshot, the shared spare the bundle", async () => {
  const burst = await startContainerd({ env: { TSSHIM_SNAPSHOT: "burst" } });
  try {
    const img = await importBusyboxImage(burst);
    await runDetached("b1", [], burst, img);
    assert.equal(processEnviron(shimPid(burst, "b1"))?.get("TSSHIM_BOOT"), "snapshot");
    assert.equal(processEnviron(await oneSpare(burst))?.get("TSSHIM_BOOT"), "bundle");
  } finally {
    await burst.stop();
  }
});
