// exec into running containers: a terminal of its own, user namespaces, the exec
// process's own limits; kill of all processes; a new user namespace next to joined ones.
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Container } from "../../src/oci/container.js";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";

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
      break;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

test("exec with a terminal: a new PTY in the container's devpts, sized, with limits and NNP", async () => {
  const c = await Container.create({
    id: "exec-tty",
    bundle: bundle.dir,
    spec: defaultSpec(["sleep", "30"]),
  });
  try {
    await c.start();
    const p = await c.exec(
      {
        terminal: true,
        consoleSize: { height: 24, width: 132 },
        user: { uid: 0, gid: 0 },
        args: ["sh", "-c", "stty size; tty; ulimit -n; grep NoNewPrivs /proc/self/status"],
        env: ["PATH=/bin"],
        cwd: "/",
        rlimits: [{ type: "RLIMIT_NOFILE", soft: 321, hard: 321 }],
        noNewPrivileges: true,
      },
      {},
    );
    const master = p.consoleMaster;
    assert.ok(master !== undefined);
    assert.equal((await p.wait()).code, 0);
    const lines = readAll(master).replace(/\r/g, "").trim().split("\n");
    closeSync(master);
    assert.equal(lines[0], "24 132");
    assert.match(lines[1]!, /^\/dev\/pts\/\d+$/);
    assert.equal(lines[2], "321");
    assert.match(lines[3]!, /NoNewPrivs:\s+1/);
  } finally {
    await c.delete();
  }
});

test("exec into a container with a user namespace joins it (ids as the container sees them)", async () => {
  const spec = defaultSpec(["sleep", "30"]);
  spec.linux!.namespaces!.push({ type: "user" });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  const c = await Container.create({ id: "exec-userns", bundle: bundle.dir, spec });
  const outPath = join(bundle.dir, "exec-userns-out");
  const out = openSync(outPath, "w");
  try {
    await c.start();
    const p = await c.exec(
      {
        user: { uid: 33, gid: 33 },
        args: ["sh", "-c", "id; readlink /proc/self/ns/user"],
        env: ["PATH=/bin"],
        cwd: "/",
      },
      { stdio: { stdout: out, stderr: out } },
    );
    const s = await p.wait();
    const [id, userns] = readFileSync(outPath, "utf8").trim().split("\n");
    assert.equal(s.code, 0, id);
    assert.equal(id, "uid=33 gid=33 groups=33".replace(" groups=33", ""));
    assert.equal(userns, readlinkSync(`/proc/${c.init.pid}/ns/user`));
  } finally {
    closeSync(out);
    await c.delete();
  }
});

test("kill all: every process of the container's cgroup gets the signal", async () => {
  const id = `tsshim-killall-${process.pid}`;
  const c = await Container.create({
    id,
    bundle: bundle.dir,
    spec: defaultSpec(["sleep", "30"]),
    cgroupsPath: `/tsshim-test/${id}`,
  });
  try {
    await c.start();
    const p = await c.exec(
      { user: { uid: 0, gid: 0 }, args: ["sleep", "30"], env: ["PATH=/bin"], cwd: "/" },
      {},
    );
    await c.kill(9, { all: true });
    assert.equal((await p.wait()).signal, 9);
    assert.equal((await c.init.wait()).signal, 9);
  } finally {
    await c.delete();
  }
});

test("a new user namespace with a joined network namespace", async () => {
  const a = await Container.create({
    id: "net-owner",
    bundle: bundle.dir,
    spec: defaultSpec(["sleep", "30"]),
  });
  try {
    await a.start();
    const spec = defaultSpec(["sh", "-c", "id -u; readlink /proc/self/ns/net; cat /proc/self/uid_map"]);
    spec.linux!.namespaces = [
      { type: "pid" },
      { type: "mount" },
      { type: "uts" },
      { type: "ipc" },
      { type: "user" },
      { type: "network", path: `/proc/${a.init.pid}/ns/net` },
    ];
    spec.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    // sysfs needs a network namespace owned by the container's user namespace.
    spec.mounts = spec.mounts!.filter((m) => m.type !== "sysfs");
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    const [uid, net, map] = r.stdout.trim().split("\n");
    assert.equal(uid, "0");
    assert.equal(net, readlinkSync(`/proc/${a.init.pid}/ns/net`));
    assert.match(map!, /^\s*0\s+200000\s+65536$/);
  } finally {
    await a.delete();
  }
});

test("joining another container's user namespace by path (with new pid, mount, uts)", async () => {
  const specA = defaultSpec(["sleep", "30"]);
  specA.linux!.namespaces!.push({ type: "user" });
  specA.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  specA.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  const a = await Container.create({ id: "userns-owner", bundle: bundle.dir, spec: specA });
  try {
    await a.start();
    const pid = a.init.pid;
    const spec = defaultSpec([
      "sh",
      "-c",
      "id -u; readlink /proc/self/ns/user; cat /proc/self/uid_map; hostname",
    ]);
    spec.hostname = "guest";
    spec.linux!.namespaces = [
      { type: "pid" },
      { type: "mount" },
      { type: "uts" },
      { type: "ipc" },
      { type: "user", path: `/proc/${pid}/ns/user` },
      { type: "network", path: `/proc/${pid}/ns/net` },
    ];
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    const [uid, userns, map, host] = r.stdout.trim().split("\n");
    assert.equal(uid, "0");
    assert.equal(userns, readlinkSync(`/proc/${pid}/ns/user`));
    assert.match(map!, /^\s*0\s+200000\s+65536$/);
    assert.equal(host, "guest");
  } finally {
    await a.delete();
  }
});

test("exec with a terminal into a container with a user namespace", async () => {
  const spec = defaultSpec(["sleep", "30"]);
  spec.linux!.namespaces!.push({ type: "user" });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  const c = await Container.create({ id: "exec-userns-tty", bundle: bundle.dir, spec });
  try {
    await c.start();
    const p = await c.exec(
      {
        terminal: true,
        user: { uid: 0, gid: 0 },
        args: ["sh", "-c", "tty; id -u"],
        env: ["PATH=/bin"],
        cwd: "/",
      },
      {},
    );
    const master = p.consoleMaster!;
    assert.equal((await p.wait()).code, 0);
    const lines = readAll(master).replace(/\r/g, "").trim().split("\n");
    closeSync(master);
    assert.match(lines[0]!, /^\/dev\/pts\/\d+$/);
    assert.equal(lines[1], "0");
  } finally {
    await c.delete();
  }
});

test("an exec'd process gets the container's seccomp profile and only fds 0-2", async () => {
  const spec = defaultSpec(["sleep", "30"]);
  spec.linux!.seccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
  };
  const c = await Container.create({ id: "exec-seccomp", bundle: bundle.dir, spec });
  const outPath = join(bundle.dir, "exec-seccomp-out");
  const out = openSync(outPath, "w");
  try {
    await c.start();
    const p = await c.exec(
      {
        user: { uid: 0, gid: 0 },
        args: ["sh", "-c", "ls /proc/$$/fd; mkdir /tmp/nope 2>&1; pwd"],
        env: ["PATH=/bin"],
        cwd: "/tmp",
        noNewPrivileges: true,
      },
      { stdio: { stdout: out, stderr: out } },
    );
    await p.wait();
    const text = readFileSync(outPath, "utf8");
    assert.match(text, /^0\n1\n2\n/);
    assert.match(text, /Operation not permitted/);
    assert.match(text, /\/tmp\n$/);
  } finally {
    closeSync(out);
    await c.delete();
  }
});
