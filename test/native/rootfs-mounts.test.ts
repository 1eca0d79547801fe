// The container's mounts as seen from inside a busybox container created by Container.create:
// flags, data options, bind/rbind with remount and recursive attributes, propagation, readonly
// root, symlinked destinations that point out of the rootfs, clear errors, and nothing left
// mounted on the host.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { Container } from "../../src/oci/container.js";
import type { Spec } from "../../src/oci/spec.js";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";
import { hostMountsMentioning, type MountInfo, mountAt, parseMountinfo } from "./rootfs-fixture.js";

let bundle: Bundle;
let hostDir: string;
let before_: string[];

before(() => {
  bundle = makeBundle();
  hostDir = mkdtempSync(join(tmpdir(), "tsshim-rootfs-host-"));
});
after(() => {
  bundle.cleanup();
  rmSync(hostDir, { recursive: true, force: true });
});
beforeEach(() => {
  before_ = hostMountsMentioning(bundle.dir, hostDir, "tsshim-escape");
});
afterEach(() => {
  assert.deepEqual(
    hostMountsMentioning(bundle.dir, hostDir, "tsshim-escape"),
    before_,
    "host mount table unchanged",
  );
});

async function mountinfoOf(spec: Spec): Promise<MountInfo[]> {
  const r = await runContainer(bundle, spec);
  assert.equal(r.status.code, 0, r.stderr);
  return parseMountinfo(r.stdout);
}

function sh(script: string): Spec {
  return defaultSpec(["sh", "-c", script]);
}

describe("rootfs mounts", () => {
  it("mounts the default set with their flags and data", async () => {
    const spec = sh("cat /proc/self/mountinfo");
    spec.mounts![0]!.options = ["nosuid", "noexec", "nodev"];
    const all = await mountinfoOf(spec);
    const proc = mountAt(all, "/proc")!;
    assert.equal(proc.fstype, "proc");
    for (const o of ["rw", "nosuid", "nodev", "noexec", "relatime"])
      assert.ok(proc.opts.includes(o), `/proc ${o}`);
    const dev = mountAt(all, "/dev")!;
    assert.equal(dev.fstype, "tmpfs");
    assert.ok(dev.opts.includes("nosuid") && !dev.opts.includes("relatime"), `strictatime /dev: ${dev.opts}`);
    assert.ok(
      dev.superOpts.includes("size=65536k") && dev.superOpts.includes("mode=755"),
      String(dev.superOpts),
    );
    const pts = mountAt(all, "/dev/pts")!;
    assert.equal(pts.fstype, "devpts");
    for (const o of ["gid=5", "mode=620", "ptmxmode=666"])
      assert.ok(pts.superOpts.includes(o), `devpts ${o}`);
    assert.ok(pts.opts.includes("nosuid") && pts.opts.includes("noexec"));
    const shm = mountAt(all, "/dev/shm")!;
    assert.equal(shm.source, "shm");
    assert.ok(shm.superOpts.includes("size=65536k"));
    for (const o of ["nosuid", "nodev", "noexec"]) assert.ok(shm.opts.includes(o));
    assert.equal(mountAt(all, "/dev/mqueue")?.fstype, "mqueue");
    const sys = mountAt(all, "/sys")!;
    assert.equal(sys.fstype, "sysfs");
    for (const o of ["ro", "nosuid", "nodev", "noexec"]) assert.ok(sys.opts.includes(o), `/sys ${o}`);
  });

  it("devpts is a new instance: its own ptmx, and /dev/ptmx points at it", async () => {
    const r = await runContainer(bundle, sh("ls -l /dev/ptmx; ls /dev/pts; stat -c '%a' /dev/pts/ptmx"));
    assert.equal(r.status.code, 0, r.stderr);
    assert.match(r.stdout, /ptmx -> pts\/ptmx/);
    assert.match(r.stdout, /^ptmx$/m);
    assert.match(r.stdout, /^666$/m);
  });

  it("bind mounts: ro and per-mount flags by remount, noatime, data ignored", async () => {
    const src = join(hostDir, "bind-ro");
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "f"), "host data\n");
    const spec = sh("cat /data/f; cat /proc/self/mountinfo; touch /data/g 2>&1; echo rc=$?");
    spec.mounts!.push({
      destination: "/data",
      type: "bind",
      source: src,
      options: ["bind", "ro", "nosuid", "nodev", "noexec", "noatime"],
    });
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    assert.match(r.stdout, /^host data$/m);
    const m = mountAt(parseMountinfo(r.stdout), "/data")!;
    for (const o of ["ro", "nosuid", "nodev", "noexec", "noatime"])
      assert.ok(m.opts.includes(o), `/data ${o}: ${m.opts}`);
    assert.match(r.stdout, /Read-only file system/);
    assert.match(r.stdout, /rc=1/);
    assert.equal(existsSync(join(src, "g")), false);
  });

  it("a file bind mount creates a file destination", async () => {
    const src = join(hostDir, "single-file");
    writeFileSync(src, "one file\n");
    const spec = sh("cat /etc/single; stat -c %F /etc/single");
    spec.mounts!.push({ destination: "/etc/single", type: "bind", source: src, options: ["rbind", "ro"] });
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    assert.equal(r.stdout, "one file\nregular file\n");
  });

  it("rbind keeps submounts; rro makes all of them read-only, plain ro only the top", async () => {
    const src = join(hostDir, "tree");
    const sub = join(src, "sub");
    mkdirSync(sub, { recursive: true });
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tsshim-sub", sub], { encoding: "utf8" });
    assert.equal(m.status, 0, m.stderr);
    try {
      const spec = sh(
        "touch /rro/sub/x 2>/dev/null; echo rro-sub=$?; touch /ro/sub/y 2>/dev/null; echo ro-sub=$?; touch /ro/z 2>/dev/null; echo ro-top=$?; cat /proc/self/mountinfo",
      );
      spec.mounts!.push(
        { destination: "/rro", type: "bind", source: src, options: ["rbind", "rro"] },
        { destination: "/ro", type: "bind", source: src, options: ["rbind", "ro"] },
      );
      const r = await runContainer(bundle, spec);
      assert.equal(r.status.code, 0, r.stderr);
      assert.match(r.stdout, /rro-sub=1/);
      assert.match(r.stdout, /ro-sub=0/);
      assert.match(r.stdout, /ro-top=1/);
      const all = parseMountinfo(r.stdout);
      assert.ok(mountAt(all, "/rro/sub")?.opts.includes("ro"));
      assert.equal(mountAt(all, "/rro/sub")?.source, "tsshim-sub");
      assert.ok(mountAt(all, "/ro/sub")?.opts.includes("rw"));
    } finally {
      spawnSync("umount", [sub]);
    }
  });

  it("recursive atime and nosuid attributes reach submounts", async () => {
    const src = join(hostDir, "tree2");
    const sub = join(src, "sub");
    mkdirSync(sub, { recursive: true });
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tsshim-sub2", sub], { encoding: "utf8" });
    assert.equal(m.status, 0, m.stderr);
    try {
      const spec = sh("cat /proc/self/mountinfo");
      spec.mounts!.push({
        destination: "/t",
        type: "bind",
        source: src,
        options: ["rbind", "rnoatime", "rnosuid"],
      });
      const all = await mountinfoOf(spec);
      for (const p of ["/t", "/t/sub"]) {
        const e = mountAt(all, p)!;
        assert.ok(e.opts.includes("noatime") && e.opts.includes("nosuid"), `${p}: ${e.opts}`);
      }
    } finally {
      spawnSync("umount", [sub]);
    }
  });

  it("propagation options: rshared and rprivate mounts", async () => {
    const spec = sh("cat /proc/self/mountinfo");
    spec.mounts!.push(
      { destination: "/shared", type: "tmpfs", source: "tmpfs", options: ["rshared"] },
      { destination: "/private", type: "tmpfs", source: "tmpfs", options: ["rprivate"] },
      { destination: "/unbindable", type: "tmpfs", source: "tmpfs", options: ["unbindable"] },
    );
    const all = await mountinfoOf(spec);
    assert.ok(
      mountAt(all, "/shared")!.optional.some((o) => o.startsWith("shared:")),
      "shared",
    );
    assert.deepEqual(mountAt(all, "/private")!.optional, []);
    assert.deepEqual(mountAt(all, "/unbindable")!.optional, ["unbindable"]);
  });

  it("rootfsPropagation shared, private and unbindable apply to the container's /", async () => {
    const spec = sh("cat /proc/self/mountinfo");
    spec.linux!.rootfsPropagation = "shared";
    const root = mountAt(await mountinfoOf(spec), "/")!;
    assert.ok(
      root.optional.some((o) => o.startsWith("shared:")),
      String(root.optional),
    );
    const priv = sh("cat /proc/self/mountinfo");
    priv.linux!.rootfsPropagation = "private";
    assert.deepEqual(mountAt(await mountinfoOf(priv), "/")!.optional, []);
    const unbindable = sh("cat /proc/self/mountinfo");
    unbindable.linux!.rootfsPropagation = "unbindable";
    assert.deepEqual(mountAt(await mountinfoOf(unbindable), "/")!.optional, ["unbindable"]);
  });

  it("mounts made under a shared host mount reach the host only with rootfsPropagation shared", async () => {
    const shared = join(hostDir, "shared");
    mkdirSync(join(shared, "sub"), { recursive: true });
    const run = (args: string[]) => {
      const r = spawnSync("mount", args, { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    };
    run(["--bind", shared, shared]);
    run(["--make-shared", shared]);
    const hostSub = () => hostMountsMentioning(`${shared}/sub `).length;
    try {
      const spec = sh("grep -c ' /hs/sub ' /proc/self/mountinfo");
      spec.mounts!.push(
        { destination: "/hs", type: "bind", source: shared, options: ["rbind"] },
        { destination: "/hs/sub", type: "tmpfs", source: "tsshim-propagated", options: ["size=1k"] },
      );
      const r = await runContainer(bundle, spec);
      assert.equal(r.stdout, "1\n", r.stderr);
      assert.equal(hostSub(), 0, "the default rslave keeps container mounts off the host");

      spec.linux!.rootfsPropagation = "shared";
      const r2 = await runContainer(bundle, spec);
      assert.equal(r2.stdout, "1\n", r2.stderr);
      assert.equal(hostSub(), 1, "with a shared root the mount propagates to the host's peer");
    } finally {
      while (hostMountsMentioning(shared).length > 0) {
        if (
          spawnSync("umount", ["-l", shared]).status !== 0 &&
          spawnSync("umount", ["-l", `${shared}/sub`]).status !== 0
        )
          break;
      }
    }
  });

  it("readonly root: / is ro, touch /x fails with EROFS, mounts on top stay writable", async () => {
    const spec = sh("touch /x 2>&1; echo rc=$?; touch /dev/shm/ok && echo shm-ok; cat /proc/self/mountinfo");
    spec.root!.readonly = true;
    const r = await runContainer(bundle, spec);
    assert.equal(r.status.code, 0, r.stderr);
    assert.match(r.stdout, /Read-only file system/);
    assert.match(r.stdout, /rc=1/);
    assert.match(r.stdout, /shm-ok/);
    assert.ok(mountAt(parseMountinfo(r.stdout), "/")!.opts.includes("ro"));
    assert.equal(existsSync(join(bundle.rootfs, "x")), false);
  });

  it("a destination through a symlink that points out of the rootfs lands inside it", async () => {
    // /etc/evil -> /etc and ../../../../tmp: absolute and relative escapes, resolved in the rootfs.
    const evil = join(bundle.rootfs, "etc/evil");
    const rel = join(bundle.rootfs, "etc/evil-rel");
    symlinkSync("/etc", evil);
    symlinkSync("../../../../../../../../etc", rel);
    try {
      const spec = sh("cat /proc/self/mountinfo; ls -d /etc/tsshim-escape /etc/tsshim-escape-rel");
      spec.mounts!.push(
        {
          destination: "/etc/evil/tsshim-escape",
          type: "tmpfs",
          source: "tsshim-escape",
          options: ["size=1k"],
        },
        {
          destination: "/etc/evil-rel/tsshim-escape-rel",
          type: "tmpfs",
          source: "tsshim-escape",
          options: [],
        },
      );
      const r = await runContainer(bundle, spec);
      assert.equal(r.status.code, 0, r.stderr);
      const all = parseMountinfo(r.stdout);
      assert.equal(mountAt(all, "/etc/tsshim-escape")?.fstype, "tmpfs");
      assert.equal(mountAt(all, "/etc/tsshim-escape-rel")?.fstype, "tmpfs");
      assert.equal(existsSync("/etc/tsshim-escape"), false, "nothing created on the host's /etc");
      assert.equal(existsSync("/etc/tsshim-escape-rel"), false);
      assert.equal(existsSync(join(bundle.rootfs, "etc/tsshim-escape")), true, "created inside the rootfs");
    } finally {
      rmSync(evil);
      rmSync(rel);
      rmSync(join(bundle.rootfs, "etc/tsshim-escape"), { recursive: true, force: true });
      rmSync(join(bundle.rootfs, "etc/tsshim-escape-rel"), { recursive: true, force: true });
    }
  });

  it("tmpcopyup: the tmpfs starts with the image's files, links, modes and owners; the image is untouched", async () => {
    const etc = join(bundle.rootfs, "etc");
    mkdirSync(join(etc, "deep/er"), { recursive: true });
    writeFileSync(join(etc, "deep/er/file"), "deep\n", { mode: 0o640 });
    chownSync(join(etc, "deep/er/file"), 12, 34);
    symlinkSync("../passwd", join(etc, "deep/link"));
    try {
      const spec = sh(
        "cat /etc/passwd | head -1; cat /etc/deep/er/file; stat -c '%a %u %g' /etc/deep/er/file; readlink /etc/deep/link; cat /etc/deep/link | head -1; echo new > /etc/new && cat /etc/new; cat /proc/self/mountinfo",
      );
      spec.mounts!.push({
        destination: "/etc",
        type: "tmpfs",
        source: "tmpfs",
        options: ["tmpcopyup", "size=1m"],
      });
      const r = await runContainer(bundle, spec);
      assert.equal(r.status.code, 0, r.stderr);
      const lines = r.stdout.split("\n");
      assert.deepEqual(lines.slice(0, 6), [
        "root:x:0:0:root:/root:/bin/sh",
        "deep",
        "640 12 34",
        "../passwd",
        "root:x:0:0:root:/root:/bin/sh",
        "new",
      ]);
      const m = mountAt(parseMountinfo(r.stdout), "/etc")!;
      assert.equal(m.fstype, "tmpfs");
      assert.ok(m.superOpts.includes("size=1024k"), String(m.superOpts));
      assert.equal(existsSync(join(etc, "new")), false, "writes stay in the tmpfs");
    } finally {
      rmSync(join(etc, "deep"), { recursive: true, force: true });
    }
  });

  it("an overlay rootfs (what containerd's snapshotter mounts) pivots, creates mount points and copies up", async () => {
    const ovl = makeBundle();
    renameSync(ovl.rootfs, join(ovl.dir, "lower"));
    for (const d of ["upper", "work", "rootfs"]) mkdirSync(join(ovl.dir, d));
    const opts = `lowerdir=${ovl.dir}/lower,upperdir=${ovl.dir}/upper,workdir=${ovl.dir}/work`;
    const m = spawnSync("mount", ["-t", "overlay", "overlay", "-o", opts, ovl.rootfs], { encoding: "utf8" });
    assert.equal(m.status, 0, m.stderr);
    try {
      const spec = sh("cat /proc/self/mountinfo; cat /etc/passwd | head -1; touch /x && echo touched");
      spec.mounts!.push(
        { destination: "/newdir/sub", type: "tmpfs", source: "tmpfs" },
        { destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup"] },
      );
      const r = await runContainer(ovl, spec);
      assert.equal(r.status.code, 0, r.stderr);
      const all = parseMountinfo(r.stdout);
      assert.equal(mountAt(all, "/")?.fstype, "overlay");
      assert.equal(mountAt(all, "/newdir/sub")?.fstype, "tmpfs");
      assert.match(r.stdout, /^root:x:0:0/m);
      assert.match(r.stdout, /touched/);
      assert.equal(existsSync(join(ovl.dir, "upper/x")), true, "writes land in the upper layer");
    } finally {
      spawnSync("umount", [ovl.rootfs]);
      assert.deepEqual(hostMountsMentioning(ovl.dir), []);
      ovl.cleanup();
    }
  });

  it("creates missing destination directories, nested", async () => {
    const spec = sh("cat /proc/self/mountinfo");
    spec.mounts!.push({ destination: "/a/b/c", type: "tmpfs", source: "tmpfs", options: ["mode=700"] });
    try {
      const m = mountAt(await mountinfoOf(spec), "/a/b/c")!;
      assert.ok(m.superOpts.includes("mode=700"));
    } finally {
      rmSync(join(bundle.rootfs, "a"), { recursive: true, force: true });
    }
  });

  it("a failing mount is an error naming source, destination and errno, and leaves nothing", async () => {
    const spec = sh("true");
    spec.mounts!.push({ destination: "/bogus", type: "tsshimnofs", source: "bogus-src", options: [] });
    await assert.rejects(
      () => Container.create({ id: "bad-mount", bundle: bundle.dir, spec }),
      (e: unknown) => e instanceof Error && /mount "bogus-src" on "\/bogus": ENODEV/.test(e.message),
    );
    const missing = sh("true");
    missing.mounts!.push({
      destination: "/m",
      type: "bind",
      source: join(hostDir, "nope"),
      options: ["bind"],
    });
    await assert.rejects(
      () => Container.create({ id: "bad-bind", bundle: bundle.dir, spec: missing }),
      (e: unknown) => e instanceof Error && /mount \(stat\) ".*nope" on "\/m": ENOENT/.test(e.message),
    );
    rmSync(join(bundle.rootfs, "bogus"), { recursive: true, force: true });
  });
});
