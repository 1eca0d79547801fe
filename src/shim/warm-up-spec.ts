// A container spec as `ctr run` writes it (containerd 1.6 defaults: the
// default capabilities, mounts, masked and read-only paths, device rules), the
// sample a spare daemon runs through spec parsing and planning while it waits
// (warm-up.ts). Never used to create anything.
/** containerd 1.6's default capabilities (oci.defaultUnixCaps); the bench and tests use them too. */
export const CONTAINERD_DEFAULT_CAPS: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];
const CAPS = [...CONTAINERD_DEFAULT_CAPS];

function mount(destination: string, type: string, source: string, options: string): unknown {
  return { destination, type, source, options: options.split(",") };
}

const ALLOWED_DEVICES: readonly [string, number, number | undefined][] = [
  ["c", 1, 3],
  ["c", 1, 8],
  ["c", 1, 7],
  ["c", 5, 0],
  ["c", 1, 5],
  ["c", 1, 9],
  ["c", 5, 1],
  ["c", 136, undefined],
  ["c", 5, 2],
];

export const WARM_UP_SPEC: unknown = {
  ociVersion: "1.0.2-dev",
  process: {
    user: { uid: 0, gid: 0, additionalGids: [0] },
    args: ["/bin/true"],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    cwd: "/",
    capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
    rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  },
  root: { path: "rootfs" },
  mounts: [
    mount("/proc", "proc", "proc", "nosuid,noexec,nodev"),
    mount("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"),
    mount("/dev/pts", "devpts", "devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"),
    mount("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"),
    mount("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"),
    mount("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"),
    mount("/run", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"),
  ],
  linux: {
    resources: {
      devices: [
        { allow: false, access: "rwm" },
        ...ALLOWED_DEVICES.map(([type, major, minor]) =>
          minor === undefined
            ? { allow: true, type, major, access: "rwm" }
            : { allow: true, type, major, minor, access: "rwm" },
        ),
      ],
      cpu: { shares: 1024 },
    },
    cgroupsPath: "/tsshim-warm-up/c",
    namespaces: ["pid", "ipc", "uts", "mount", "network"].map((type) => ({ type })),
    maskedPaths: [
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/sys/firmware",
      "/proc/scsi",
    ],
    readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
  },
};
