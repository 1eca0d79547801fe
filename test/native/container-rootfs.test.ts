// The container core with the rootfs plan (native/rootfs.c): what the init sees.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";

let bundle: Bundle;
before(() => {
  bundle = makeBundle();
});
after(() => bundle.cleanup());

test("mounts of the spec are in /proc/self/mountinfo", async () => {
  const r = await runContainer(bundle, defaultSpec(["cat", "/proc/self/mountinfo"]));
  assert.equal(r.status.code, 0, r.stderr);
  const mounts = r.stdout
    .trim()
    .split("\n")
    .map((l) => {
      const [pre, post] = l.split(" - ");
      return { dst: pre!.split(" ")[4]!, fstype: post!.split(" ")[0]!, opts: pre!.split(" ")[5]! };
    });
  const find = (dst: string) => mounts.find((m) => m.dst === dst);
  assert.equal(find("/proc")?.fstype, "proc");
  assert.equal(find("/dev")?.fstype, "tmpfs");
  assert.equal(find("/dev/pts")?.fstype, "devpts");
  assert.equal(find("/dev/mqueue")?.fstype, "mqueue");
  assert.equal(find("/sys")?.fstype, "sysfs");
  assert.match(find("/sys")!.opts, /^ro/);
  assert.ok(find("/"), "a root mount");
});

test("/dev has the default devices and links", async () => {
  const r = await runContainer(bundle, defaultSpec(["ls", "-l", "/dev"]));
  for (const name of ["null", "zero", "full", "random", "urandom", "tty"]) {
    assert.match(r.stdout, new RegExp(`^c.* ${name}$`, "m"), name);
  }
  assert.match(r.stdout, /ptmx -> pts\/ptmx/);
});

test("masked paths are unreadable, readonly paths are read-only", async () => {
  const r = await runContainer(
    bundle,
    defaultSpec([
      "sh",
      "-c",
      "wc -c < /proc/keys; ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname",
    ]),
  );
  // The host's /proc/keys is not empty: inside, /dev/null is bound over it.
  assert.deepEqual(r.stdout.trim().split("\n"), ["0", "0"], r.stderr);
  assert.match(r.stderr, /Read-only file system/);
});

test("readonly root", async () => {
  const spec = defaultSpec(["sh", "-c", "touch /newfile; echo rc=$?"]);
  spec.root!.readonly = true;
  const r = await runContainer(bundle, spec);
  assert.equal(r.stdout, "rc=1\n");
  assert.match(r.stderr, /Read-only file system/);
});

test("a bad mount fails create with one clear message", async () => {
  const spec = defaultSpec(["true"]);
  spec.mounts!.push({
    destination: "/data",
    type: "bind",
    source: "/nonexistent-source",
    options: ["rbind"],
  });
  await assert.rejects(runContainer(bundle, spec), /nonexistent-source.*ENOENT/);
});

test("noPivot: the rootfs is moved over / and chrooted into, with the same view", async () => {
  const r = await runContainer(bundle, defaultSpec(["sh", "-c", "ls /; cat /proc/self/mountinfo | wc -l"]), {
    noPivot: true,
  });
  assert.equal(r.status.code, 0, r.stderr);
  assert.match(r.stdout, /^bin$/m);
  assert.match(r.stdout, /^proc$/m);
});
