// What tsshim_rootfs_finalize does, seen from inside: masked paths, readonly paths, sysctls;
// and the no-pivot path (MS_MOVE + chroot) through the rootfs test runner.
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { Container } from "../../src/oci/container.js";
import { buildRootfsPlan } from "../../src/oci/rootfs-plan.js";
import { descendants, openFds } from "../helpers/proc.js";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";
import { hostMountsMentioning, mountAt, parseMountinfo, testRun } from "./rootfs-fixture.js";

let bundle: Bundle;
let before_: string[];
before(() => {
  bundle = makeBundle();
});
after(() => bundle.cleanup());
beforeEach(() => {
  before_ = hostMountsMentioning(bundle.dir);
});
afterEach(() => {
  assert.deepEqual(hostMountsMentioning(bundle.dir), before_, "host mount table unchanged");
});

describe("rootfs finalize", () => {
  it("masked paths: files read empty, directories are empty, missing ones are skipped", async () => {
    const spec = defaultSpec([
      "sh",
      "-c",
      "echo keys=$(cat /proc/keys | wc -c); echo timer=$(cat /proc/timer_list | wc -c); echo fw=$(ls -A /sys/firmware | wc -l); echo x > /proc/keys; cat /proc/self/mountinfo",
    ]);
    spec.linux!.maskedPaths = [
      "/proc/kcore",
      "/proc/keys",
      "/proc/timer_list",
      "/sys/firmware",
      "/no/such/path",
    ];
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    assert.match(r.stdout, /keys=0/);
    assert.match(r.stdout, /timer=0/);
    assert.match(r.stdout, /fw=0/);
    const all = parseMountinfo(r.stdout);
    const fw = mountAt(all, "/sys/firmware")!;
    assert.equal(fw.fstype, "tmpfs");
    assert.ok(fw.opts.includes("ro"));
    // /proc/keys has the container's /dev/null bound over it.
    assert.equal(mountAt(all, "/proc/keys")?.fstype, "tmpfs");
    assert.equal(mountAt(all, "/proc/keys")?.root, "/null");
    // The host's own files are untouched.
    assert.ok(readFileSync("/proc/timer_list", "utf8").length > 0);
  });

  it("readonly paths: /proc/sys and /proc/sysrq-trigger refuse writes with EROFS", async () => {
    const spec = defaultSpec([
      "sh",
      "-c",
      "echo 1 > /proc/sys/net/ipv4/ip_forward; echo rc=$?; echo h > /proc/sysrq-trigger; echo rc2=$?; cat /proc/self/mountinfo",
    ]);
    const r = await runContainer(bundle, spec);
    assert.match(r.stderr, /Read-only file system/);
    assert.match(r.stdout, /rc=1/);
    assert.match(r.stdout, /rc2=1/);
    const all = parseMountinfo(r.stdout);
    assert.ok(mountAt(all, "/proc/sys")!.opts.includes("ro"));
    assert.ok(mountAt(all, "/proc/bus")!.opts.includes("ro"));
  });

  it("sysctls are written inside the container's namespaces, the host keeps its value", async () => {
    const hostForward = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
    const spec = defaultSpec([
      "sh",
      "-c",
      "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname /proc/sys/kernel/shmmni",
    ]);
    const want = hostForward.trim() === "1" ? "0" : "1";
    spec.linux!.sysctl = {
      "net.ipv4.ip_forward": want,
      "kernel.domainname": "tsshim.test",
      "kernel.shmmni": "1234",
    };
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    assert.equal(r.stdout, `${want}\ntsshim.test\n1234\n`);
    assert.equal(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"), hostForward);
  });

  it("a sysctl outside the container's namespaces is refused before anything is created", async () => {
    const spec = defaultSpec(["true"]);
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== "network");
    spec.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
    await assert.rejects(
      () => Container.create({ id: "bad-sysctl", bundle: bundle.dir, spec }),
      /linux\.sysctl\["net\.ipv4\.ip_forward"\]: needs the container to have its own network namespace/,
    );
  });

  it("a sysctl that does not exist fails with the path and errno", async () => {
    const spec = defaultSpec(["true"]);
    spec.linux!.sysctl = { "net.ipv4.tsshim_no_such_key": "1" };
    await assert.rejects(
      () => Container.create({ id: "bad-sysctl2", bundle: bundle.dir, spec }),
      /sysctl \(open\) "\/proc\/sys\/net\/ipv4\/tsshim_no_such_key": ENOENT/,
    );
  });
});

describe("rootfs no-pivot", () => {
  it("MS_MOVE + chroot: / is the rootfs, cwd is /, the host is out of reach, finalize still applies", () => {
    const spec = defaultSpec([]);
    spec.root!.readonly = true;
    const plan = buildRootfsPlan(spec, bundle.dir, { noPivot: true });
    const r = testRun(plan, [
      "/bin/sh",
      "-c",
      "pwd; cat /proc/self/mountinfo; ls /; cd /..; ls -d /work 2>&1; touch /x 2>&1; cat /proc/keys | wc -c",
    ]);
    assert.equal(r.error, null, JSON.stringify(r.error));
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /^\/$/m);
    const all = parseMountinfo(r.output);
    const root = mountAt(all, "/")!;
    assert.ok(root.root.endsWith("/rootfs"), root.root);
    assert.ok(root.opts.includes("ro"));
    assert.match(r.output, /^bin$/m);
    assert.match(r.output, /\/work: No such file or directory/);
    assert.match(r.output, /Read-only file system/);
    assert.match(r.output, /^0$/m);
  });

  it("the same plan with pivot_root leaves no old root in the mount table", () => {
    const plan = buildRootfsPlan(defaultSpec([]), bundle.dir);
    const r = testRun(plan, ["/bin/cat", "/proc/self/mountinfo"]);
    assert.equal(r.error, null, JSON.stringify(r.error));
    const all = parseMountinfo(r.output);
    assert.equal(all[0]?.mountPoint, "/");
    assert.ok(
      all.every(
        (m) =>
          m.mountPoint === "/" ||
          m.mountPoint.startsWith("/proc") ||
          m.mountPoint.startsWith("/dev") ||
          m.mountPoint.startsWith("/sys"),
      ),
      r.output,
    );
  });

  it("100 runs, half failing mid-way, leave no fd, process or mount behind", () => {
    const good = buildRootfsPlan(defaultSpec([]), bundle.dir);
    const badSpec = defaultSpec([]);
    badSpec.mounts!.push({ destination: "/bogus", type: "tsshimnofs", source: "bogus-src" });
    const bad = buildRootfsPlan(badSpec, bundle.dir);
    const fds = [...openFds().keys()].sort();
    const children = descendants(process.pid).length;
    for (let i = 0; i < 50; i++) {
      assert.equal(testRun(good, ["/bin/true"]).status, 0);
      assert.equal(testRun(bad, ["/bin/true"]).error?.errno, 19);
    }
    assert.deepEqual([...openFds().keys()].sort(), fds);
    assert.equal(descendants(process.pid).length, children);
    rmSync(join(bundle.rootfs, "bogus"), { recursive: true, force: true });
  });

  it("a child-side failure comes back as a structured error", () => {
    const spec = defaultSpec([]);
    spec.mounts!.push({ destination: "/bogus", type: "tsshimnofs", source: "bogus-src" });
    const r = testRun(buildRootfsPlan(spec, bundle.dir), ["/bin/true"]);
    assert.deepEqual(r.error, {
      errno: 19,
      step: "mount",
      syscall: "mount",
      detail: "bogus-src",
      path: "/bogus",
    });
  });
});
