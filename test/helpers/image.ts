// Builds a busybox OCI image locally (no registry is reachable) and imports
// it into a test containerd with `ctr image import`.
//
// The archive is an OCI image layout: oci-layout, index.json and
// blobs/sha256/<hex> for the gzip'ed layer, the config and the manifest. It
// is byte-for-byte reproducible (fixed tar mtimes, gzip without a timestamp)
// and cached under os.tmpdir(), keyed by busybox's digest and FORMAT.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { BUSYBOX_PATH, busyboxRootfsEntries, busyboxSha256, DEFAULT_PATH_ENV } from "./busybox.js";
import type { Containerd } from "./containerd.js";
import { TAR_MTIME, type TarEntry, writeTar } from "./tar.js";

export const BUSYBOX_IMAGE = "docker.io/tsshim/busybox:test";

// Bump when the image content or layout changes, so stale caches are ignored.
const FORMAT = 1;

/** What the image config says; every field has the busybox default. */
export interface ImageOptions {
  /** Full image name; BUSYBOX_IMAGE by default. */
  name?: string;
  /** Config Cmd; ["sh"] by default. */
  cmd?: string[];
  /** Config Entrypoint; none by default. */
  entrypoint?: string[];
  /** Config Env; PATH only by default. */
  env?: string[];
}

function normalize(
  opts: string | ImageOptions | undefined,
): Required<Omit<ImageOptions, "entrypoint">> & ImageOptions {
  const o = typeof opts === "string" ? { name: opts } : (opts ?? {});
  return { ...o, name: o.name ?? BUSYBOX_IMAGE, cmd: o.cmd ?? ["sh"], env: o.env ?? [DEFAULT_PATH_ENV] };
}

export interface BuiltImage {
  /** Path of the OCI layout tarball. */
  path: string;
  name: string;
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  /** sha256 of the uncompressed layer (the config's rootfs.diff_ids[0]). */
  diffId: string;
}

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

function blob(data: Buffer): Blob {
  return { digest: `sha256:${createHash("sha256").update(data).digest("hex")}`, size: data.length, data };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function buildBusyboxImageArchive(options?: string | ImageOptions): {
  archive: Buffer;
  info: Omit<BuiltImage, "path">;
} {
  const opts = normalize(options);
  const name = opts.name;
  const layerTar = writeTar(busyboxRootfsEntries());
  const diffId = `sha256:${createHash("sha256").update(layerTar).digest("hex")}`;
  // Node's gzip header carries mtime 0, so the same input gives the same bytes.
  const layer = blob(gzipSync(layerTar, { level: 9 }));
  const created = new Date(TAR_MTIME * 1000).toISOString();
  const config = blob(
    json({
      created,
      architecture: "amd64",
      os: "linux",
      config: {
        Env: opts.env,
        Cmd: opts.cmd,
        ...(opts.entrypoint ? { Entrypoint: opts.entrypoint } : {}),
        WorkingDir: "/",
      },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created, created_by: `tsshim test harness from ${BUSYBOX_PATH}` }],
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
  const tag = name.slice(name.lastIndexOf(":") + 1);
  const index = json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: manifest.digest,
        size: manifest.size,
        platform: { architecture: "amd64", os: "linux" },
        annotations: {
          // ctr 1.6 names the image from this full name first; the OCI ref
          // name is only the tag, which ctr would otherwise prefix with
          // "import-<date>".
          "io.containerd.image.name": name,
          "org.opencontainers.image.ref.name": tag,
        },
      },
    ],
  });
  const entries: TarEntry[] = [
    { kind: "file", path: "oci-layout", mode: 0o644, data: json({ imageLayoutVersion: "1.0.0" }) },
    { kind: "file", path: "index.json", mode: 0o644, data: index },
    { kind: "dir", path: "blobs", mode: 0o755 },
    { kind: "dir", path: "blobs/sha256", mode: 0o755 },
  ];
  for (const b of [layer, config, manifest]) {
    entries.push({ kind: "file", path: `blobs/sha256/${b.digest.slice(7)}`, mode: 0o644, data: b.data });
  }
  return {
    archive: writeTar(entries),
    info: {
      name,
      manifestDigest: manifest.digest,
      configDigest: config.digest,
      layerDigest: layer.digest,
      diffId,
    },
  };
}

const built = new Map<string, BuiltImage>();

/** The cached archive for these options, built on first use. */
export function busyboxImageArchive(options?: string | ImageOptions): BuiltImage {
  const opts = normalize(options);
  const optsKey = JSON.stringify([opts.name, opts.cmd, opts.entrypoint ?? null, opts.env]);
  const cached = built.get(optsKey);
  if (cached && existsSync(cached.path)) return cached;
  const key = createHash("sha256")
    .update(`${FORMAT}\0${busyboxSha256()}\0${optsKey}`)
    .digest("hex")
    .slice(0, 24);
  const dir = join(tmpdir(), "tsshim-test-images");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `busybox-${key}.tar`);
  const { archive, info } = buildBusyboxImageArchive(opts);
  if (!existsSync(path)) {
    // Write then rename: parallel test processes never see half a file.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, archive);
    renameSync(tmp, path);
  }
  const result = { ...info, path };
  built.set(optsKey, result);
  return result;
}

/**
 * Imports (and unpacks, for the default snapshotter) the busybox image into
 * `cd`'s namespace (or `namespace`, e.g. CRI's "k8s.io"). Returns the image
 * name. Options make variants, e.g. a pause image for CRI:
 * `{ name: "docker.io/tsshim/pause:test", entrypoint: ["sleep", "2147483647"] }`.
 */
export async function importBusyboxImage(
  cd: Containerd,
  options?: string | ImageOptions,
  namespace?: string,
): Promise<string> {
  const image = busyboxImageArchive(options);
  const name = image.name;
  const nsOpt = namespace === undefined ? {} : { namespace };
  const r = await cd.ctr(["image", "import", image.path], { timeoutMs: 60_000, ...nsOpt });
  if (r.code !== 0) {
    throw new Error(`ctr image import ${image.path} failed (${r.code}): ${r.stderr}\n${cd.logTail()}`);
  }
  const ls = await cd.ctr(["image", "ls", "-q"], nsOpt);
  if (!ls.stdout.split("\n").includes(name)) {
    throw new Error(`image ${name} not listed after import; ctr image ls -q:\n${ls.stdout}`);
  }
  return name;
}
