// The one-call cgroup entry points (native/cgroup_place.c: cgroupMkdirs, cgroupEnter,
// cgroupRmdirs) and the child's own v1 placement (native/container_cgroup.c), on this host's
// real hierarchies (hybrid: v1 controllers + cgroup2 at /sys/fs/cgroup/unified).
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupManager, detectLayout } from "../../src/oci/cgroups/index.js";
import { nativeCgroup } from "../../src/oci/cgroups/native.js";
import { Container } from "../../src/oci/container.js";
import { openFds } from "../helpers/proc.js";
import { type Bundle, defaultSpec, makeBundle } from "./container-fixture.js";

const layout = detectLayout();
const roots = [...layout.v1.map((h) => h.mountpoint), ...(layout.unified ? [layout.unified.mountpoint] : [])];
const cpusetRoot = layout.v1.find((h) => h.controllers.includes("cpuset"))?.mountpoint;
const top = `/tsshim-place-${process.pid}`;
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

let bundle: Bundle;
const children: ChildProcess[] = [];
before(() => {
  bundle = makeBundle();
});
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  // Anything a failed assertion left, deepest first.
  for (const r of roots) {
    for (const d of [join(r, top, "a/b"), join(r, top, "a"), join(r, top, "c"), join(r, top)]) {
      try {
        rmdirSync(d);
      } catch {
        // absent
      }
    }
  }
  bundle.cleanup();
});

/** The cgroup of pid per hierarchy ("" for cgroup2), as /proc/<pid>/cgroup reports it. */
function cgroupsOf(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n")) {
    const [, ctrls, path] = line.split(":") as [string, string, string];
    m.set(ctrls, path);
  }
  return m;
}

function leftDirs(): string[] {
  return roots.map((r) => join(r, top)).filter((d) => existsSync(d));
}

test("cgroupMkdirs makes every hierarchy's directory in one call, cpuset copied down", () => {
  const dirs = roots.map((r) => join(r, top, "a/b"));
  const made = nativeCgroup().cgroupMkdirs(
    dirs,
    roots.map((r) => r === cpusetRoot),
  );
  // Outermost first, per target: top, top/a, top/a/b.
  assert.deepEqual(
    made,
    roots.flatMap((r) => [join(r, top), join(r, top, "a"), join(r, top, "a/b")]),
  );
  if (cpusetRoot !== undefined) {
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      const want = readFileSync(join(cpusetRoot, f), "utf8").trim();
      assert.notEqual(want, "");
      assert.equal(readFileSync(join(cpusetRoot, top, "a/b", f), "utf8").trim(), want, f);
      assert.equal(readFileSync(join(cpusetRoot, top, "a", f), "utf8").trim(), want, f);
    }
  }
  // Existing directories are not made again.
  assert.deepEqual(
    nativeCgroup().cgroupMkdirs(
      dirs,
      roots.map(() => false),
    ),
    [],
  );
  const errnos = nativeCgroup().cgroupRmdirs([...made].reverse());
  assert.deepEqual(
    errnos,
    made.map(() => 0),
  );
  assert.deepEqual(leftDirs(), []);
  // Already gone counts as gone.
  assert.deepEqual(nativeCgroup().cgroupRmdirs([join(roots[0]!, top)]), [0]);
});

test("cgroupMkdirs fills a cpuset parent another shim made and left empty", {
  skip: cpusetRoot === undefined,
}, () => {
  // The race this guards against: shim A makes top/ and is about to fill its cpus when
  // shim B, finding top/ already there, makes top/a/b; B must not copy top's empty values.
  const root = cpusetRoot!;
  mkdirSync(join(root, top));
  assert.equal(readFileSync(join(root, top, "cpuset.cpus"), "utf8").trim(), "");
  const made = nativeCgroup().cgroupMkdirs([join(root, top, "a/b")], [true]);
  assert.deepEqual(made, [join(root, top, "a"), join(root, top, "a/b")]);
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    const want = readFileSync(join(root, f), "utf8").trim();
    for (const d of [top, `${top}/a`, `${top}/a/b`])
      assert.equal(readFileSync(join(root, d, f), "utf8").trim(), want, `${d}/${f}`);
  }
  assert.deepEqual(nativeCgroup().cgroupRmdirs([...made.reverse(), join(root, top)]), [0, 0, 0]);
  assert.deepEqual(leftDirs(), []);
});

test("cgroupEnter places a process in every hierarchy; rmdir of a populated cgroup says EBUSY", async () => {
  const dirs = roots.map((r) => join(r, top, "c"));
  const made = nativeCgroup().cgroupMkdirs(
    dirs,
    roots.map((r) => r === cpusetRoot),
  );
  const sleeper = spawn("sleep", ["1000"], { stdio: "ignore", env });
  children.push(sleeper);
  const pid = sleeper.pid!;
  nativeCgroup().cgroupEnter(
    dirs.map((d) => join(d, "cgroup.procs")),
    pid,
  );
  const where = cgroupsOf(pid);
  for (const h of layout.v1)
    assert.equal(where.get(h.controllers.join(",")), `${top}/c`, h.controllers.join(","));
  if (layout.unified) assert.equal(where.get(""), `${top}/c`, "cgroup2");
  assert.deepEqual(
    nativeCgroup().cgroupRmdirs(dirs),
    dirs.map(() => 16), // EBUSY: the sleeper is still in each
  );
  sleeper.kill("SIGKILL");
  await new Promise((r) => sleeper.once("exit", r));
  // The exit is reaped; the cgroups empty as the task leaves them.
  let errnos = nativeCgroup().cgroupRmdirs([...made].reverse());
  for (let i = 0; i < 50 && errnos.some((e) => e !== 0); i++) {
    await new Promise((r) => setTimeout(r, 10));
    errnos = nativeCgroup().cgroupRmdirs([...made].reverse());
  }
  assert.deepEqual(
    errnos,
    made.map(() => 0),
  );
  assert.deepEqual(leftDirs(), []);
});

test("cgroupEnter names the file that failed", () => {
  assert.throws(
    () => nativeCgroup().cgroupEnter([join(roots[0]!, top, "missing/cgroup.procs")], process.pid),
    (e: Error & { errnoName?: string; path?: string }) =>
      e.errnoName === "ENOENT" && e.path === join(roots[0]!, top, "missing/cgroup.procs"),
  );
});

test("a failing cgroupMkdirs removes every directory it made before the failure", () => {
  const dirs = [...roots.map((r) => join(r, top, "a/b")), "/proc/version/x"];
  assert.throws(
    () =>
      nativeCgroup().cgroupMkdirs(
        dirs,
        dirs.map(() => false),
      ),
    (e: Error & { errnoName?: string; path?: string; step?: string }) =>
      e.errnoName === "ENOTDIR" && e.path === "/proc/version/x" && e.step === "cgroup create",
  );
  assert.deepEqual(leftDirs(), [], "no cgroup directory left in any hierarchy");
});

test("the init places itself in every v1 hierarchy (and cgroup2 by clone) before it is started", async () => {
  const id = `self-${process.pid}`;
  const spec = defaultSpec(["true"]);
  spec.linux!.namespaces!.push({ type: "cgroup" });
  const c = await Container.create({ id, bundle: bundle.dir, spec, cgroupsPath: `${top}/${id}` });
  try {
    const where = cgroupsOf(c.init.pid);
    for (const h of layout.v1)
      assert.equal(where.get(h.controllers.join(",")), `${top}/${id}`, h.controllers.join(","));
    if (layout.unified) assert.equal(where.get(""), `${top}/${id}`, "cgroup2");
    // Only the process's own thread exists: it is the whole process in every hierarchy.
    const procs = readFileSync(`/sys/fs/cgroup/pids${top}/${id}/cgroup.procs`, "utf8").trim();
    assert.equal(procs, String(c.init.pid));
    await c.start();
    assert.equal((await c.init.wait()).status, 0);
  } finally {
    await c.delete();
  }
  assert.deepEqual(leftDirs(), [], "delete removed the cgroups and the parent create made");
});

test("a v1 hierarchy the child cannot join fails create with the file, leaving no cgroup or fd", async () => {
  const cpuRoot = layout.v1.find((h) => h.controllers.includes("cpu"))?.mountpoint;
  if (cpuRoot === undefined || !existsSync(join(cpuRoot, "cpu.rt_runtime_us"))) return;
  // A real-time task cannot join a v1 cpu cgroup with no real-time budget, and a new
  // cgroup has none (EINVAL): make this process's main thread, which clones the init,
  // SCHED_FIFO for the create. (The child joins v1 hierarchies itself, before anything else.)
  const fds = openFds();
  execFileSync("chrt", ["-f", "-p", "1", String(process.pid)]);
  try {
    await assert.rejects(
      Container.create({
        id: "noplace",
        bundle: bundle.dir,
        spec: defaultSpec(["true"]),
        cgroupsPath: `${top}/x`,
      }),
      (e: Error) =>
        /cgroup enter/.test(e.message) && /\/cpu[^/]*\/tsshim-place-\d+\/x\/tasks".*EINVAL/.test(e.message),
    );
  } finally {
    execFileSync("chrt", ["-o", "-p", "0", String(process.pid)]);
  }
  assert.deepEqual(openFds(), fds, "no fd left");
  assert.deepEqual(leftDirs(), []);
});

test("cgroupPrepareAsync makes the directories and opens the files on the pool; a failure leaves nothing", async () => {
  const dirs = roots.map((r) => join(r, top, "a/b"));
  const tasks = layout.v1.map((h) => join(h.mountpoint, top, "a/b/tasks"));
  const fds = openFds();
  const r = await nativeCgroup().cgroupPrepareAsync(
    dirs,
    roots.map((root) => root === cpusetRoot),
    tasks,
  );
  assert.equal(r.made.length, roots.length * 3);
  assert.deepEqual(
    r.fds.map((fd) => readlinkSync(`/proc/self/fd/${fd}`)),
    tasks,
  );
  for (const fd of r.fds) closeSync(fd);
  assert.deepEqual(
    nativeCgroup().cgroupRmdirs([...r.made].reverse()),
    r.made.map(() => 0),
  );
  // A directory that cannot be made, then a file that cannot be opened.
  await assert.rejects(
    nativeCgroup().cgroupPrepareAsync([...dirs, "/proc/version/x"], [...dirs.map(() => false), false], []),
    (e: Error & { errnoName?: string }) => e.errnoName === "ENOTDIR",
  );
  await assert.rejects(
    nativeCgroup().cgroupPrepareAsync(
      dirs,
      dirs.map(() => false),
      [...tasks, join(roots[0]!, top, "a/b/no-such-file")],
    ),
    (e: Error & { errnoName?: string; step?: string }) =>
      e.errnoName === "ENOENT" && e.step === "cgroup enter",
  );
  assert.deepEqual(leftDirs(), [], "no cgroup directory left in any hierarchy");
  assert.deepEqual(openFds(), fds, "no fd left");
});

test("a manager destroyed while its deferred create still runs leaves no directory", async () => {
  const fds = openFds();
  for (let i = 0; i < 20; i++) {
    const m = new CgroupManager({ cgroupsPath: `${top}/race${i}`, id: "unused" });
    m.createForSpawn();
    const opening = m.openTasks();
    await m.destroy();
    for (const fd of await opening) closeSync(fd);
    assert.deepEqual(leftDirs(), [], `round ${i}`);
  }
  assert.deepEqual(openFds(), fds, "no fd left");
});

test("with a user namespace, the init and an exec'd process still join every hierarchy", async () => {
  const id = `userns-${process.pid}`;
  const spec = defaultSpec(["sleep", "30"]);
  spec.linux!.namespaces!.push({ type: "user" }, { type: "cgroup" });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  const c = await Container.create({ id, bundle: bundle.dir, spec, cgroupsPath: `${top}/${id}` });
  try {
    await c.start();
    const p = await c.exec({ user: { uid: 0, gid: 0 }, args: ["sleep", "30"], env: ["PATH=/bin"], cwd: "/" });
    for (const pid of [c.init.pid, p.pid]) {
      const where = cgroupsOf(pid);
      for (const h of layout.v1)
        assert.equal(where.get(h.controllers.join(",")), `${top}/${id}`, `${pid} ${h.controllers.join(",")}`);
      if (layout.unified) assert.equal(where.get(""), `${top}/${id}`, `${pid} cgroup2`);
    }
  } finally {
    await c.delete();
  }
  assert.deepEqual(leftDirs(), []);
});
