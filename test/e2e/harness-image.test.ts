// The locally built busybox OCI image archive: reproducible, readable by a
// standard tar, and internally consistent (every digest and size matches
// its blob, the config's diff_id is the uncompressed layer's digest).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { busyboxSha256 } from "../helpers/busybox.js";
import { BUSYBOX_IMAGE, buildBusyboxImageArchive, busyboxImageArchive } from "../helpers/image.js";
import { TAR_MTIME, writeTar } from "../helpers/tar.js";

let tmp: string;

before(() => {
  tmp = mkdtempSync("/tmp/tsshim-image-");
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function sha256(b: Buffer): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

function tar(args: string[]): string {
  const r = spawnSync("tar", args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin", TZ: "UTC" } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test("the archive is byte-for-byte reproducible and cached under a content key", () => {
  const a = buildBusyboxImageArchive().archive;
  const b = buildBusyboxImageArchive().archive;
  assert.ok(a.equals(b));
  const cached = busyboxImageArchive();
  assert.ok(readFileSync(cached.path).equals(a), "the cached file is the same bytes");
  assert.equal(busyboxImageArchive().path, cached.path, "one file per busybox digest and name");
  assert.equal(cached.name, BUSYBOX_IMAGE);
  assert.match(busyboxSha256(), /^[0-9a-f]{64}$/);
});

test("an OCI layout a standard tar reads, with digests and sizes that match", () => {
  const archive = join(tmp, "image.tar");
  writeFileSync(archive, buildBusyboxImageArchive().archive);
  const listing = tar(["-tf", archive]).trim().split("\n");
  assert.deepEqual(listing.slice(0, 4), ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]);
  const out = join(tmp, "layout");
  tar(["-xf", archive, "-C", tmp, "--one-top-level=layout"]);
  assert.deepEqual(JSON.parse(readFileSync(join(out, "oci-layout"), "utf8")), {
    imageLayoutVersion: "1.0.0",
  });
  for (const name of readdirSync(join(out, "blobs", "sha256"))) {
    assert.equal(sha256(readFileSync(join(out, "blobs", "sha256", name))), `sha256:${name}`);
  }
  const blob = (digest: string): Buffer => readFileSync(join(out, "blobs", "sha256", digest.slice(7)));
  const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8"));
  const desc = index.manifests[0];
  assert.equal(desc.annotations["io.containerd.image.name"], BUSYBOX_IMAGE);
  assert.equal(desc.annotations["org.opencontainers.image.ref.name"], "test");
  assert.equal(blob(desc.digest).length, desc.size);
  const manifest = JSON.parse(blob(desc.digest).toString());
  assert.equal(blob(manifest.config.digest).length, manifest.config.size);
  const layerDesc = manifest.layers[0];
  assert.equal(layerDesc.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
  const layer = blob(layerDesc.digest);
  assert.equal(layer.length, layerDesc.size);
  const config = JSON.parse(blob(manifest.config.digest).toString());
  assert.deepEqual(config.rootfs.diff_ids, [sha256(gunzipSync(layer))]);
  assert.deepEqual(config.config.Cmd, ["sh"]);
  assert.match(config.config.Env[0], /^PATH=.*\/bin/);

  // The layer: busybox executable, applet links, fixed mtimes, root-owned.
  const layerTar = join(tmp, "layer.tar");
  writeFileSync(layerTar, gunzipSync(layer));
  const verbose = tar(["--numeric-owner", "-tvf", layerTar]);
  assert.match(verbose, /^-rwxr-xr-x 0\/0 +\d+ 2024-01-01 00:00 bin\/busybox$/m);
  assert.match(verbose, /^lrwxrwxrwx 0\/0 +0 2024-01-01 00:00 bin\/sh -> busybox$/m);
  assert.match(verbose, /^drwxrwxrwt 0\/0 +0 2024-01-01 00:00 tmp\/$/m);
  assert.match(verbose, /^-rw-r--r-- 0\/0 +\d+ 2024-01-01 00:00 etc\/passwd$/m);
  assert.equal(new Date(TAR_MTIME * 1000).toISOString(), "2024-01-01T00:00:00.000Z");
  const busybox = join(tmp, "bb");
  tar(["-xf", layerTar, "-C", tmp, "--one-top-level=bb", "bin/busybox", "etc/passwd", "etc/group"]);
  assert.ok(readFileSync(join(busybox, "bin/busybox")).equals(readFileSync("/bin/busybox")));
  assert.equal(statSync(join(busybox, "bin/busybox")).mode & 0o777, 0o755);
  assert.match(readFileSync(join(busybox, "etc/passwd"), "utf8"), /^root:x:0:0:.*\nnobody:x:65534:65534:/);
  assert.match(readFileSync(join(busybox, "etc/group"), "utf8"), /^root:x:0:\n.*nobody:x:65534:/s);
});

test("the ustar writer splits long paths into prefix + name, as a standard tar reads them", () => {
  const deep = `${"d".repeat(90)}/${"e".repeat(60)}/file-with-a-long-name-${"x".repeat(40)}`;
  const archive = writeTar([
    { kind: "dir", path: `${"d".repeat(90)}`, mode: 0o755 },
    { kind: "dir", path: `${"d".repeat(90)}/${"e".repeat(60)}`, mode: 0o700 },
    { kind: "file", path: deep, mode: 0o600, data: Buffer.from("payload") },
    { kind: "symlink", path: "link", target: `${"d".repeat(90)}/${"e".repeat(5)}` },
  ]);
  assert.equal(archive.length % 512, 0);
  const path = join(tmp, "long.tar");
  writeFileSync(path, archive);
  const names = tar(["-tf", path]).trim().split("\n");
  assert.deepEqual(names, [`${"d".repeat(90)}/`, `${"d".repeat(90)}/${"e".repeat(60)}/`, deep, "link"]);
  tar(["-xf", path, "-C", tmp]);
  assert.equal(readFileSync(join(tmp, deep), "utf8"), "payload");
  assert.equal(readlinkSync(join(tmp, "link")), `${"d".repeat(90)}/${"e".repeat(5)}`);
  // ustar has no room for longer link targets (no pax/GNU extensions here).
  assert.throws(() => writeTar([{ kind: "symlink", path: "l", target: deep }]), /does not fit in 100 bytes/);
  assert.throws(
    () => writeTar([{ kind: "file", path: "x".repeat(120), mode: 0o644, data: Buffer.alloc(0) }]),
    /too long/,
  );
});
