// The one description of a busybox root filesystem, shared by the image
// builder (image.ts, entries go into a layer tar) and the bundle builder
// (bundle.ts, entries are written to a plain directory).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TarEntry } from "./tar.js";

export const BUSYBOX_PATH = "/bin/busybox";

export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Same shape as a tar entry, so the image layer is written straight from it.
export type RootfsEntry = TarEntry;

let bytesCache: Buffer | undefined;
let appletCache: string[] | undefined;

export function busyboxBytes(): Buffer {
  bytesCache ??= readFileSync(BUSYBOX_PATH);
  return bytesCache;
}

export function busyboxSha256(): string {
  return createHash("sha256").update(busyboxBytes()).digest("hex");
}

// Every applet this busybox build has (`busybox --list`), sorted; "busybox"
// itself is the binary, not a link.
export function busyboxApplets(): string[] {
  if (appletCache) return appletCache;
  const r = spawnSync(BUSYBOX_PATH, ["--list"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${BUSYBOX_PATH} --list failed: ${r.stderr || r.error?.message}`);
  appletCache = r.stdout
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s !== "" && s !== "busybox" && !s.includes("/"))
    .sort();
  return appletCache;
}

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\ntty:x:5:\nnobody:x:65534:\n";

// Ordered so that every directory comes before what it contains (tar readers
// and mkdir both want that).
export function busyboxRootfsEntries(): RootfsEntry[] {
  const entries: RootfsEntry[] = [
    { kind: "dir", path: "bin", mode: 0o755 },
    { kind: "file", path: "bin/busybox", mode: 0o755, data: busyboxBytes() },
  ];
  for (const applet of busyboxApplets()) {
    entries.push({ kind: "symlink", path: `bin/${applet}`, target: "busybox" });
  }
  entries.push(
    { kind: "dir", path: "dev", mode: 0o755 },
    { kind: "dir", path: "etc", mode: 0o755 },
    { kind: "file", path: "etc/group", mode: 0o644, data: Buffer.from(GROUP) },
    { kind: "file", path: "etc/passwd", mode: 0o644, data: Buffer.from(PASSWD) },
    { kind: "dir", path: "proc", mode: 0o555 },
    { kind: "dir", path: "root", mode: 0o700 },
    { kind: "dir", path: "sys", mode: 0o555 },
    { kind: "dir", path: "tmp", mode: 0o1777 },
    { kind: "dir", path: "usr", mode: 0o755 },
    { kind: "dir", path: "usr/bin", mode: 0o755 },
    // Scripts with `#!/usr/bin/env sh` should work.
    { kind: "symlink", path: "usr/bin/env", target: "../../bin/busybox" },
    { kind: "dir", path: "var", mode: 0o755 },
  );
  return entries;
}
