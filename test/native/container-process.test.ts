// The process attributes of the init, each checked from inside the container.
import assert from "node:assert/strict";
import { closeSync, openSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CAPABILITIES } from "../../src/oci/spec.js";
import { type Bundle, DEFAULT_CAPS, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";

let bundle: Bundle;
before(() => {
  bundle = makeBundle();
});
after(() => bundle.cleanup());

function mask(names: readonly string[]): string {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(CAPABILITIES[n]!);
  return m.toString(16).padStart(16, "0");
}

function statusField(status: string, key: string): string {
  const line = status.split("\n").find((l) => l.startsWith(`${key}:`));
  assert.ok(line, `${key} in /proc/self/status`);
  return line.slice(key.length + 1).trim();
}

test("user: uid, gid, additionalGids, umask", async () => {
  const spec = defaultSpec(["sh", "-c", "id; umask"]);
  spec.process!.user = { uid: 1000, gid: 1001, additionalGids: [10, 20], umask: 0o027 };
  const r = await runContainer(bundle, spec);
  assert.equal(r.status.code, 0, r.stderr);
  assert.equal(r.stdout, "uid=1000 gid=1001 groups=10,20\n0027\n");
});

test("capabilities: the five sets in /proc/self/status", async () => {
  const spec = defaultSpec(["cat", "/proc/self/status"]);
  spec.process!.user = { uid: 1000, gid: 1000 };
  spec.process!.capabilities = {
    bounding: [...DEFAULT_CAPS],
    effective: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
    permitted: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
    inheritable: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
    ambient: ["CAP_NET_BIND_SERVICE"],
  };
  const r = await runContainer(bundle, spec);
  assert.equal(r.status.code, 0, r.stderr);
  assert.equal(statusField(r.stdout, "CapBnd"), mask(DEFAULT_CAPS));
  // cat is exec'd by a non-root user: permitted/effective come from ambient only.
  assert.equal(statusField(r.stdout, "CapInh"), mask(["CAP_NET_BIND_SERVICE", "CAP_KILL"]));
  assert.equal(statusField(r.stdout, "CapAmb"), mask(["CAP_NET_BIND_SERVICE"]));
  assert.equal(statusField(r.stdout, "CapPrm"), mask(["CAP_NET_BIND_SERVICE"]));
  assert.equal(statusField(r.stdout, "CapEff"), mask(["CAP_NET_BIND_SERVICE"]));
});

test("capabilities: root keeps exactly its permitted/effective sets", async () => {
  const spec = defaultSpec(["cat", "/proc/self/status"]);
  const r = await runContainer(bundle, spec);
  assert.equal(r.status.code, 0, r.stderr);
  assert.equal(statusField(r.stdout, "CapEff"), mask(DEFAULT_CAPS));
  assert.equal(statusField(r.stdout, "CapPrm"), mask(DEFAULT_CAPS));
  assert.equal(statusField(r.stdout, "CapBnd"), mask(DEFAULT_CAPS));
  assert.equal(statusField(r.stdout, "CapInh"), "0000000000000000");
});

test("noNewPrivileges on and off", async () => {
  const on = await runContainer(bundle, defaultSpec(["grep", "NoNewPrivs", "/proc/self/status"]));
  assert.match(on.stdout, /NoNewPrivs:\s+1/);
  const spec = defaultSpec(["grep", "NoNewPrivs", "/proc/self/status"]);
  spec.process!.noNewPrivileges = false;
  const off = await runContainer(bundle, spec);
  assert.match(off.stdout, /NoNewPrivs:\s+0/);
});

test("rlimits: ulimit -n / -c / -s", async () => {
  const spec = defaultSpec(["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c; ulimit -s"]);
  spec.process!.rlimits = [
    { type: "RLIMIT_NOFILE", soft: 512, hard: 777 },
    { type: "RLIMIT_CORE", soft: 0, hard: 0 },
    { type: "RLIMIT_STACK", soft: 4096 * 1024, hard: JSON.parse("18446744073709551615") as number },
  ];
  const r = await runContainer(bundle, spec);
  assert.equal(r.stdout, "512\n777\n0\n4096\n");
});

test("hostname and domainname in a new uts namespace", async () => {
  const spec = defaultSpec(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"]);
  spec.hostname = "box-one";
  spec.domainname = "example.test";
  const r = await runContainer(bundle, spec);
  assert.equal(r.stdout, "box-one\nexample.test\n");
});

test("oomScoreAdj", async () => {
  const spec = defaultSpec(["cat", "/proc/self/oom_score_adj"]);
  spec.process!.oomScoreAdj = 123;
  const r = await runContainer(bundle, spec);
  assert.equal(r.stdout, "123\n");
});

test("env, args and argv[0] resolved on the container's PATH", async () => {
  const spec = defaultSpec(["env"]);
  spec.process!.env = ["PATH=/usr/bin", "GREETING=hello there"];
  const r = await runContainer(bundle, spec);
  assert.equal(r.stdout, "PATH=/usr/bin\nGREETING=hello there\n");
});

test("only fds 0, 1, 2 reach the container; cwd is inside the rootfs", async () => {
  const spec = defaultSpec(["sh", "-c", "ls /proc/$$/fd; pwd; readlink /proc/$$/cwd; sleep 1"]);
  spec.process!.cwd = "/tmp";
  let cwdIno = 0;
  const r = await runContainer(bundle, spec, {}, async (c) => {
    await new Promise((res) => setTimeout(res, 200));
    cwdIno = statSync(`/proc/${c.init.pid}/cwd`).ino;
  });
  assert.equal(r.stdout, "0\n1\n2\n/tmp\n/tmp\n", r.stderr);
  // Seen from the host, the process's cwd is the rootfs's tmp directory.
  assert.equal(cwdIno, statSync(`${bundle.rootfs}/tmp`).ino);
});

test("ioPriority and scheduler", async () => {
  const spec = defaultSpec(["sh", "-c", "ionice -p $$; grep ^policy /proc/self/sched; cat /proc/self/stat"]);
  spec.process!.ioPriority = { class: "IOPRIO_CLASS_IDLE", priority: 0 };
  spec.process!.scheduler = { policy: "SCHED_BATCH", nice: 5 };
  const r = await runContainer(bundle, spec);
  assert.equal(r.status.code, 0, r.stderr);
  assert.match(r.stdout, /idle/);
  assert.match(r.stdout, /policy\s*:\s*3/);
  const stat = r.stdout.trim().split("\n").at(-1)!.split(") ")[1]!.split(" ");
  assert.equal(stat[16], "5", "nice is field 19 of stat");
});

test("personality LINUX32: uname -m reports i686", async () => {
  const spec = defaultSpec(["uname", "-m"]);
  spec.linux!.personality = { domain: "LINUX32" };
  const r = await runContainer(bundle, spec);
  assert.equal(r.stdout, "i686\n");
});

test("preserved fds become 3, 4 in the container; nothing else is open", async () => {
  const a = join(bundle.dir, "preserved-a");
  const b = join(bundle.dir, "preserved-b");
  writeFileSync(a, "from-a\n");
  writeFileSync(b, "from-b\n");
  const fa = openSync(a, "r");
  const fb = openSync(b, "r");
  try {
    const r = await runContainer(bundle, defaultSpec(["sh", "-c", "ls /proc/$$/fd; cat <&3; cat <&4"]), {
      preserveFds: [fb, fa],
    });
    assert.equal(r.stdout, "0\n1\n2\n3\n4\nfrom-b\nfrom-a\n", r.stderr);
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
});
