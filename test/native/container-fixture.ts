// Bundles and runs for the container core's native tests: a busybox rootfs in a temp
// dir, a runc-like default spec, and a helper that runs a container to its exit with
// stdout/stderr captured in files.
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container, type CreateOptions, type ExitStatus } from "../../src/oci/container.js";
import type { Spec } from "../../src/oci/spec.js";
import { CONTAINERD_DEFAULT_CAPS } from "../../src/shim/warm-up-spec.js";
import { BUSYBOX_PATH, busyboxRootfsEntries } from "../helpers/busybox.js";

export interface Bundle {
  dir: string;
  rootfs: string;
  cleanup(): void;
}

/** A bundle dir with rootfs/ holding busybox-static and its applet links. */
export function makeBundle(): Bundle {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-ct-"));
  // Reachable by the mapped root of a user namespace.
  chmodSync(dir, 0o755);
  const rootfs = join(dir, "rootfs");
  mkdirSync(rootfs);
  for (const e of busyboxRootfsEntries()) {
    const p = join(rootfs, e.path);
    if (e.kind === "dir") mkdirSync(p, { recursive: true, mode: e.mode });
    else if (e.kind === "symlink") symlinkSync(e.target, p);
    else if (e.path === "bin/busybox") copyFileSync(BUSYBOX_PATH, p);
    else writeFileSync(p, e.data, { mode: e.mode });
  }
  mkdirSync(join(rootfs, "dev/pts"), { recursive: true });
  mkdirSync(join(rootfs, "dev/shm"), { recursive: true });
  return { dir, rootfs, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** containerd's default capability set. */
export const DEFAULT_CAPS = CONTAINERD_DEFAULT_CAPS;

/** What `runc spec` writes, give or take: new pid/mount/ipc/uts/net namespaces. */
export function defaultSpec(args: string[]): Spec {
  return {
    ociVersion: "1.2.0",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: false },
    hostname: "tsshim",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      {
        destination: "/dev/mqueue",
        type: "mqueue",
        source: "mqueue",
        options: ["nosuid", "noexec", "nodev"],
      },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
      maskedPaths: ["/proc/kcore", "/proc/keys", "/sys/firmware"],
      readonlyPaths: ["/proc/bus", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

export interface RunResult {
  status: ExitStatus;
  stdout: string;
  stderr: string;
}

let seq = 0;

/** Creates, starts and waits for a container; stdout/stderr captured through files. */
export async function runContainer(
  bundle: Bundle,
  spec: Spec,
  extra: Partial<CreateOptions> = {},
  whileRunning?: (c: Container) => Promise<void>,
): Promise<RunResult> {
  const out = join(bundle.dir, `out-${process.pid}-${seq}`);
  const err = join(bundle.dir, `err-${process.pid}-${seq++}`);
  const o = openSync(out, "w");
  const e = openSync(err, "w");
  let c: Container | undefined;
  try {
    c = await Container.create({
      id: `t${seq}`,
      bundle: bundle.dir,
      spec,
      stdio: { stdout: o, stderr: e },
      ...extra,
    });
    await c.start();
    if (whileRunning !== undefined) await whileRunning(c);
    const status = await c.init.wait();
    return { status, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
  } finally {
    closeSync(o);
    closeSync(e);
    if (c !== undefined) await c.delete();
    rmSync(out, { force: true });
    rmSync(err, { force: true });
  }
}
