// Namespaces: user (with maps seen from the host), time offsets, joining by path.
import assert from "node:assert/strict";
import { readFileSync, readlinkSync } from "node:fs";
import { after, before, test } from "node:test";
import { Container } from "../../src/oci/container.js";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";

let bundle: Bundle;
before(() => {
  bundle = makeBundle();
});
after(() => bundle.cleanup());

test("user namespace: root inside is the mapped id outside", async () => {
  const spec = defaultSpec(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; sleep 1"]);
  spec.linux!.namespaces!.push({ type: "user" });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
  let hostStatus = "";
  const r = await runContainer(bundle, spec, {}, async (c) => {
    await new Promise((res) => setTimeout(res, 300));
    hostStatus = readFileSync(`/proc/${c.init.pid}/status`, "utf8");
  });
  assert.equal(r.status.code, 0, r.stderr);
  const lines = r.stdout.split("\n").map((l) => l.trim().split(/\s+/).join(" "));
  assert.deepEqual(lines.slice(0, 3), ["0", "0 200000 65536", "0 300000 65536"]);
  assert.match(hostStatus, /^Uid:\s+200000\s+200000\s+200000\s+200000$/m);
  assert.match(hostStatus, /^Gid:\s+300000\s+300000\s+300000\s+300000$/m);
});

test("user namespace: a non-root user inside maps too", async () => {
  const spec = defaultSpec(["sh", "-c", "id"]);
  spec.process!.user = { uid: 1000, gid: 1000 };
  spec.linux!.namespaces!.push({ type: "user" });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  const r = await runContainer(bundle, spec);
  assert.equal(r.stdout, "uid=1000 gid=1000 groups=1000\n".replace(" groups=1000", ""), r.stderr);
});

test("time namespace: boottime and monotonic offsets", async () => {
  const spec = defaultSpec(["sh", "-c", "cat /proc/uptime"]);
  spec.linux!.namespaces!.push({ type: "time" });
  spec.linux!.timeOffsets = { boottime: { secs: 1_000_000, nanosecs: 0 }, monotonic: { secs: 500_000 } };
  const r = await runContainer(bundle, spec);
  assert.equal(r.status.code, 0, r.stderr);
  const inside = Number.parseFloat(r.stdout.split(" ")[0]!);
  const host = Number.parseFloat(readFileSync("/proc/uptime", "utf8").split(" ")[0]!);
  assert.ok(inside >= host + 1_000_000 - 5, `uptime inside ${inside} vs host ${host}`);
});

test("joining namespaces by path: uts, net and ipc of another container", async () => {
  const specA = defaultSpec(["sleep", "30"]);
  specA.hostname = "owner-box";
  const a = await Container.create({ id: "ns-owner", bundle: bundle.dir, spec: specA });
  try {
    await a.start();
    const pid = a.init.pid;
    const specB = defaultSpec([
      "sh",
      "-c",
      "hostname; for n in net ipc pid; do readlink /proc/self/ns/$n; done",
    ]);
    delete specB.hostname;
    specB.linux!.namespaces = [
      { type: "pid" },
      { type: "mount" },
      { type: "uts", path: `/proc/${pid}/ns/uts` },
      { type: "network", path: `/proc/${pid}/ns/net` },
      { type: "ipc", path: `/proc/${pid}/ns/ipc` },
    ];
    const r = await runContainer(bundle, specB);
    assert.equal(r.status.code, 0, r.stderr);
    const [host, net, ipc, pidns] = r.stdout.trim().split("\n");
    assert.equal(host, "owner-box");
    assert.equal(net, readlinkSync(`/proc/${pid}/ns/net`));
    assert.equal(ipc, readlinkSync(`/proc/${pid}/ns/ipc`));
    assert.notEqual(pidns, readlinkSync(`/proc/${pid}/ns/pid`));
  } finally {
    await a.delete();
  }
});

test("joining the pid namespace of another container", async () => {
  const a = await Container.create({
    id: "pid-owner",
    bundle: bundle.dir,
    spec: defaultSpec(["sleep", "30"]),
  });
  try {
    await a.start();
    const specB = defaultSpec(["sh", "-c", "echo $$; ps -o pid,args"]);
    specB.linux!.namespaces = [
      { type: "mount" },
      { type: "uts" },
      { type: "pid", path: `/proc/${a.init.pid}/ns/pid` },
    ];
    const r = await runContainer(bundle, specB);
    assert.equal(r.status.code, 0, r.stderr);
    const [mypid, ...ps] = r.stdout.trim().split("\n");
    assert.notEqual(mypid, "1", "not the init of that namespace");
    assert.ok(
      ps.some((l) => /^\s*1\s+sleep 30$/.test(l)),
      `the other container's init is pid 1 here:\n${ps.join("\n")}`,
    );
  } finally {
    await a.delete();
  }
});

test("cgroup namespace: the container's own cgroups are its root in every hierarchy", async () => {
  const id = `tsshim-cgns-${process.pid}`;
  const spec = defaultSpec(["sh", "-c", "cat /proc/self/cgroup; sleep 1"]);
  spec.linux!.namespaces!.push({ type: "cgroup" });
  let hostView = "";
  const r = await runContainer(bundle, spec, { cgroupsPath: `/tsshim-test/${id}` }, async (c) => {
    await new Promise((res) => setTimeout(res, 200));
    hostView = readFileSync(`/proc/${c.init.pid}/cgroup`, "utf8");
  });
  assert.equal(r.status.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.ok(lines.length >= 2, r.stdout);
  for (const l of lines) assert.match(l, /:\/$/, `inside: ${l}`);
  for (const l of hostView.trim().split("\n")) assert.ok(l.endsWith(`/tsshim-test/${id}`), `host: ${l}`);
});
