// The create/start split, kill before start, delete of a never-started container,
// failing creates (a clear message, nothing left), exec into a running container,
// the terminal, seccomp, and the cgroup placement.
import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Container } from "../../src/oci/container.js";
import type { Spec } from "../../src/oci/spec.js";
import { descendants, openFds } from "../helpers/proc.js";
import { type Bundle, DEFAULT_CAPS, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";

let bundle: Bundle;
before(() => {
  bundle = makeBundle();
});
after(() => bundle.cleanup());

function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n = 0;
    try {
      n = readSync(fd, buf);
    } catch {
      break; // EIO: the slave side is gone
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

function nothingLeft(fdsBefore: Map<number, string>): void {
  assert.deepEqual(
    descendants(process.pid).map((p) => p.pid),
    [],
    "no process of ours left",
  );
  assert.deepEqual([...openFds().keys()].sort(), [...fdsBefore.keys()].sort(), "no fd left");
}

test("create blocks before execve; start runs the program", async () => {
  const marker = join(bundle.rootfs, "tmp", "started");
  rmSync(marker, { force: true });
  const c = await Container.create({
    id: "split",
    bundle: bundle.dir,
    spec: defaultSpec(["touch", "/tmp/started"]),
  });
  try {
    assert.equal(c.status, "created");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(marker), false, "nothing ran before start");
    assert.equal(readFileSync(`/proc/${c.init.pid}/status`, "utf8").match(/^State:\s+(\S)/m)?.[1], "S");
    await c.start();
    const s = await c.init.wait();
    assert.equal(s.code, 0);
    assert.equal(existsSync(marker), true);
    assert.equal(c.status, "stopped");
  } finally {
    await c.delete();
    rmSync(marker, { force: true });
  }
});

test("kill before start: SIGKILL, and SIGTERM (which a PID-namespace init would ignore)", async () => {
  const a = await Container.create({ id: "kill-early", bundle: bundle.dir, spec: defaultSpec(["true"]) });
  await a.kill(9);
  const s = await a.init.wait();
  assert.equal(s.signal, 9);
  assert.equal(s.status, 128 + 9);
  await assert.rejects(a.start(), /./);
  await a.delete();
  const b = await Container.create({ id: "term-early", bundle: bundle.dir, spec: defaultSpec(["true"]) });
  await b.kill(15);
  assert.equal((await b.init.wait()).status, 128 + 15);
  await b.delete();
});

test("delete of a created, never-started container leaves nothing", async () => {
  const fds = openFds();
  const c = await Container.create({ id: "never", bundle: bundle.dir, spec: defaultSpec(["true"]) });
  const pid = c.init.pid;
  assert.equal(existsSync(`/proc/${pid}`), true);
  await c.delete();
  assert.equal(existsSync(`/proc/${pid}`), false, "no process, no zombie");
  nothingLeft(fds);
});

async function createFails(spec: Spec, message: RegExp): Promise<void> {
  const fds = openFds();
  await assert.rejects(Container.create({ id: "bad", bundle: bundle.dir, spec }), message);
  nothingLeft(fds);
}

test('a missing binary fails create: execve "nosuchbin": ENOENT', async () => {
  await createFails(defaultSpec(["nosuchbin"]), /^ContainerError: execve "nosuchbin": ENOENT$/);
  await createFails(defaultSpec(["/bin/nosuchbin"]), /execve \(stat\) "\/bin\/nosuchbin": ENOENT/);
});

test("execve failing at start comes back as the start's error", async () => {
  const junk = join(bundle.rootfs, "bin/junk");
  writeFileSync(junk, "this is not a program\n", { mode: 0o755 });
  const fds = openFds();
  const c = await Container.create({ id: "enoexec", bundle: bundle.dir, spec: defaultSpec(["/bin/junk"]) });
  try {
    await assert.rejects(c.start(), /^ContainerError: execve "\/bin\/junk": ENOEXEC$/);
    assert.equal((await c.init.wait()).status, 127);
  } finally {
    await c.delete();
    rmSync(junk, { force: true });
  }
  nothingLeft(fds);
});

test("a missing cwd fails create with the path", async () => {
  const spec = defaultSpec(["true"]);
  spec.process!.cwd = "/does/not/exist";
  await createFails(spec, /cwd \(chdir\) "\/does\/not\/exist": ENOENT/);
});

test("a namespace path that does not exist fails before clone", async () => {
  const spec = defaultSpec(["true"]);
  spec.linux!.namespaces!.push({ type: "cgroup", path: "/proc/999999999/ns/cgroup" });
  await createFails(spec, /join namespace \(open\) "\/proc\/999999999\/ns\/cgroup": ENOENT/);
});

test("a user the kernel refuses fails create: setresuid outside the user namespace's map", async () => {
  const spec = defaultSpec(["true"]);
  spec.process!.user = { uid: 70000, gid: 0 };
  spec.linux!.namespaces!.push({ type: "user" });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  await createFails(spec, /user \(setresuid\) "70000": EINVAL/);
});

test("terminal: the PTY is the controlling tty, consoleSize applied, master handed back", async () => {
  const spec = defaultSpec([
    "sh",
    "-c",
    "stty size; tty; [ -t 0 ] && echo ctty=$(ps -o pid,tty | grep -c pts)",
  ]);
  spec.process!.terminal = true;
  spec.process!.consoleSize = { height: 40, width: 100 };
  const c = await Container.create({ id: "tty", bundle: bundle.dir, spec });
  try {
    const master = c.consoleMaster;
    assert.ok(master !== undefined && master >= 0);
    await c.start();
    const s = await c.init.wait();
    const out = readAll(master).replace(/\r/g, "");
    assert.equal(s.code, 0, out);
    const lines = out.trim().split("\n");
    assert.equal(lines[0], "40 100");
    assert.match(lines[1]!, /^\/dev\/pts\/\d+$/);
  } finally {
    await c.delete();
  }
});

test("seccomp: a denied syscall fails with the profile's errno (with and without NNP)", async () => {
  for (const nnp of [true, false]) {
    const spec = defaultSpec(["sh", "-c", "mkdir /tmp/denied-dir; echo rc=$?"]);
    spec.process!.noNewPrivileges = nnp;
    spec.linux!.seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64"],
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
    };
    const r = await runContainer(bundle, spec);
    assert.match(r.stderr, /Operation not permitted/, `nnp=${nnp}`);
    assert.equal(r.stdout, "rc=1\n");
    assert.equal(existsSync(join(bundle.rootfs, "tmp/denied-dir")), false);
  }
});

test("exec joins every namespace and the cgroup of the running init", async () => {
  const spec = defaultSpec(["sleep", "30"]);
  spec.hostname = "exec-box";
  const id = `tsshim-exec-${process.pid}`;
  const c = await Container.create({ id, bundle: bundle.dir, spec, cgroupsPath: `/tsshim-test/${id}` });
  const outPath = join(bundle.dir, "exec-out");
  const out = openSync(outPath, "w");
  try {
    await c.start();
    const p = await c.exec(
      {
        user: { uid: 1000, gid: 1000 },
        args: [
          "sh",
          "-c",
          "echo $$; hostname; id -u; for n in mnt net ipc uts pid; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup",
        ],
        env: ["PATH=/bin"],
        cwd: "/tmp",
      },
      { stdio: { stdout: out, stderr: out } },
    );
    const s = await p.wait();
    assert.equal(s.code, 0);
    const lines = readFileSync(outPath, "utf8").trim().split("\n");
    assert.notEqual(lines[0], "1");
    assert.ok(Number(lines[0]) < 100, `a pid of the container's namespace: ${lines[0]}`);
    assert.equal(lines[1], "exec-box");
    assert.equal(lines[2], "1000");
    const pid = c.init.pid;
    const nsLinks = ["mnt", "net", "ipc", "uts", "pid"].map((n) => readlinkSync(`/proc/${pid}/ns/${n}`));
    assert.deepEqual(lines.slice(3, 8), nsLinks);
    const initCgroups = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n").sort();
    assert.deepEqual(lines.slice(8).sort(), initCgroups);
    assert.ok(
      initCgroups.some((l) => l.endsWith(`/tsshim-test/${id}`)),
      initCgroups.join("\n"),
    );
  } finally {
    closeSync(out);
    await c.delete();
  }
  assert.equal(existsSync(`/sys/fs/cgroup/unified/tsshim-test/${id}`), false, "cgroup removed");
});

test("an exec'd process cannot open the init's /proc/<pid>/exe (the node binary) for writing", async () => {
  const c = await Container.create({ id: "cve", bundle: bundle.dir, spec: defaultSpec(["true"]) });
  const outPath = join(bundle.dir, "cve-out");
  const out = openSync(outPath, "w");
  const tryOpen =
    "( exec 3>/proc/1/exe ) 2>&1; [ -e /proc/1/exe ] || echo hidden; ( exec 3</proc/1/exe ) 2>&1";
  try {
    // The init is still the blocked copy of node: the moment CVE-2019-5736 used.
    // Container root with the default capabilities: the non-dumpable init's exe is out of reach.
    const p = await c.exec(
      {
        user: { uid: 0, gid: 0 },
        args: ["sh", "-c", tryOpen],
        env: ["PATH=/bin"],
        cwd: "/",
        capabilities: {
          bounding: [...DEFAULT_CAPS],
          effective: [...DEFAULT_CAPS],
          permitted: [...DEFAULT_CAPS],
        },
      },
      { stdio: { stdout: out, stderr: out } },
    );
    await p.wait();
    // Even with every capability, the running node binary cannot be written.
    const q = await c.exec(
      {
        user: { uid: 0, gid: 0 },
        args: ["sh", "-c", "( exec 3>/proc/1/exe ) 2>&1"],
        env: ["PATH=/bin"],
        cwd: "/",
      },
      { stdio: { stdout: out, stderr: out } },
    );
    await q.wait();
    const lines = readFileSync(outPath, "utf8").trim().split("\n");
    assert.equal(lines.length, 4, lines.join("\n"));
    assert.match(lines[0]!, /can't create \/proc\/1\/exe: Permission denied/);
    assert.equal(lines[1], "hidden", "the exe link does not even resolve");
    assert.match(lines[2]!, /can't open \/proc\/1\/exe: Permission denied/);
    assert.match(lines[3]!, /can't create \/proc\/1\/exe: Text file busy/);
  } finally {
    closeSync(out);
    await c.delete();
  }
});
