// OCI bundles for tests that drive a runtime directly (the native core, or
// runc/crun for comparison): a plain-directory busybox rootfs, a default
// config.json close to what `runc spec` writes, and the bundle on disk.
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LinuxNamespaceType, Mount, Spec } from "../../src/oci/spec.js";
import { BUSYBOX_PATH, busyboxRootfsEntries, DEFAULT_PATH_ENV } from "./busybox.js";

/**
 * Writes the busybox rootfs (the same entries as the image's layer: busybox,
 * a link per applet in /bin, /etc/passwd and /etc/group with root and nobody,
 * /tmp, /proc, /sys, /dev) into `dir`, which may exist but should be empty.
 */
export function makeBusyboxRootfs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const e of busyboxRootfsEntries()) {
    const path = join(dir, e.path);
    switch (e.kind) {
      case "dir":
        mkdirSync(path, { recursive: true });
        chmodSync(path, e.mode); // not subject to the umask, so /tmp gets its sticky 1777
        break;
      case "file":
        if (e.path === "bin/busybox") copyFileSync(BUSYBOX_PATH, path);
        else writeFileSync(path, e.data);
        chmodSync(path, e.mode);
        break;
      case "symlink":
        symlinkSync(e.target, path);
        break;
    }
  }
}

export interface DefaultSpecOptions {
  /** root.path; "rootfs" (relative to the bundle) by default. */
  rootfs?: string;
  /** root.readonly; true by default, as `runc spec` has it. */
  readonlyRoot?: boolean;
  /** process.terminal; false by default (tests read stdout). */
  terminal?: boolean;
  /** Added after PATH and TERM. */
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  hostname?: string;
  /** Namespaces to create; pid, network, ipc, uts, mount by default. */
  namespaces?: LinuxNamespaceType[];
  cgroupsPath?: string;
  /** Replaces the default capability sets (all five get this list). */
  capabilities?: string[];
  /** Added after the default mounts. */
  mounts?: Mount[];
}

const DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

export const DEFAULT_MASKED_PATHS = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
];

export const DEFAULT_READONLY_PATHS = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** The mounts every Linux container gets by default (as `runc spec`). */
export function defaultMounts(): Mount[] {
  return [
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
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
}

/** A config.json for `args`, close to `runc spec` (see DefaultSpecOptions for the differences). */
export function defaultSpec(args: string[], opts: DefaultSpecOptions = {}): Spec {
  const caps = opts.capabilities ?? DEFAULT_CAPS;
  const spec: Spec = {
    ociVersion: "1.0.2",
    process: {
      terminal: opts.terminal ?? false,
      user: { uid: opts.uid ?? 0, gid: opts.gid ?? 0 },
      args,
      env: [DEFAULT_PATH_ENV, "TERM=xterm", ...(opts.env ?? [])],
      cwd: opts.cwd ?? "/",
      capabilities: {
        bounding: [...caps],
        effective: [...caps],
        permitted: [...caps],
        ambient: [...caps],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: opts.rootfs ?? "rootfs", readonly: opts.readonlyRoot ?? true },
    hostname: opts.hostname ?? "tsshim",
    mounts: [...defaultMounts(), ...(opts.mounts ?? [])],
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: (opts.namespaces ?? ["pid", "network", "ipc", "uts", "mount"]).map((type) => ({ type })),
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (opts.cgroupsPath !== undefined && spec.linux) spec.linux.cgroupsPath = opts.cgroupsPath;
  return spec;
}

/** Writes `spec` as `<dir>/config.json` (creating `dir`). */
export function writeBundle(dir: string, spec: Spec): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "config.json");
  writeFileSync(path, `${JSON.stringify(spec, null, 2)}\n`);
  return path;
}

export interface Bundle {
  dir: string;
  rootfs: string;
  spec: Spec;
}

/** A complete bundle in `dir`: busybox rootfs at <dir>/rootfs and a default config.json running `args`. */
export function makeBusyboxBundle(dir: string, args: string[], opts: DefaultSpecOptions = {}): Bundle {
  const spec = defaultSpec(args, { ...opts, rootfs: "rootfs" });
  const rootfs = join(dir, "rootfs");
  makeBusyboxRootfs(rootfs);
  writeBundle(dir, spec);
  return { dir, rootfs, spec };
}
