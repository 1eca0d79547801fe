// The pod sandbox image: tools/pause/pause.c compiled static (cc -static -Os)
// into a one-file layer (/pause, Entrypoint ["/pause"]), packed as an OCI
// image layout and imported with `ctr image import`, so containerd's CRI
// plugin finds its `sandbox_image` locally and never asks a registry.
//
// Binary and archive are cached under $TMPDIR/tsshim-test-images, keyed by
// the sha256 of pause.c (the archive bytes are reproducible).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type Containerd, repoRoot } from "./containerd.js";
import { TAR_MTIME, writeTar } from "./tar.js";

export const PAUSE_IMAGE = "docker.io/tsshim/pause:test";

const cacheDir = (): string => join(tmpdir(), "tsshim-test-images");

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Path of the static pause binary, compiled on first use. */
export function pauseBinary(): string {
  const src = join(repoRoot(), "tools", "pause", "pause.c");
  const key = sha256(readFileSync(src)).slice(0, 16);
  const out = join(cacheDir(), `pause-${key}`);
  if (existsSync(out)) return out;
  mkdirSync(cacheDir(), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync("cc", ["-static", "-Os", "-Wall", "-Wextra", "-Werror", "-s", "-o", tmp, src], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  renameSync(tmp, out);
  return out;
}

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

function blob(data: Buffer): Blob {
  return { digest: `sha256:${sha256(data)}`, size: data.length, data };
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

/** The OCI layout tarball of the pause image (path in the cache). */
export function pauseImageArchive(name = PAUSE_IMAGE): string {
  const bin = readFileSync(pauseBinary());
  const path = join(cacheDir(), `pause-image-${sha256(`${sha256(bin)}\0${name}`).slice(0, 16)}.tar`);
  if (existsSync(path)) return path;
  const layerTar = writeTar([{ kind: "file", path: "pause", mode: 0o755, data: bin }]);
  const layer = blob(gzipSync(layerTar, { level: 9 }));
  const created = new Date(TAR_MTIME * 1000).toISOString();
  const config = blob(
    json({
      created,
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: ["/pause"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layerTar)}`] },
      history: [{ created, created_by: "tsshim tools/pause/pause.c (cc -static -Os)" }],
    }),
  );
  const manifest = blob(
    json({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: config.digest,
        size: config.size,
      },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.size },
      ],
    }),
  );
  const index = json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: manifest.digest,
        size: manifest.size,
        platform: { architecture: "amd64", os: "linux" },
        // ctr 1.6 takes the full name from this annotation (see image.ts).
        annotations: {
          "io.containerd.image.name": name,
          "org.opencontainers.image.ref.name": name.slice(name.lastIndexOf(":") + 1),
        },
      },
    ],
  });
  const archive = writeTar([
    { kind: "file", path: "oci-layout", mode: 0o644, data: json({ imageLayoutVersion: "1.0.0" }) },
    { kind: "file", path: "index.json", mode: 0o644, data: index },
    { kind: "dir", path: "blobs", mode: 0o755 },
    { kind: "dir", path: "blobs/sha256", mode: 0o755 },
    ...[layer, config, manifest].map((b) => ({
      kind: "file" as const,
      path: `blobs/sha256/${b.digest.slice(7)}`,
      mode: 0o644,
      data: b.data,
    })),
  ]);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, archive);
  renameSync(tmp, path);
  return path;
}

/** Imports the pause image into `namespace` of `cd` (CRI's is "k8s.io"); returns its name. */
export async function importPauseImage(
  cd: Containerd,
  namespace = "k8s.io",
  name = PAUSE_IMAGE,
): Promise<string> {
  const archive = pauseImageArchive(name);
  const r = await cd.ctr(["image", "import", archive], { timeoutMs: 60_000, namespace });
  if (r.code !== 0) throw new Error(`ctr image import ${archive} failed (${r.code}): ${r.stderr}`);
  return name;
}
