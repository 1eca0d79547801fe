// Parsing of OCI mount options into mount(2) flags, propagation, mount_setattr(2)
// attributes and the filesystem data string, with the option set runc and crun accept.

// mount(2) flags (linux/mount.h); values are kernel ABI.
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

// mount_setattr(2) attributes (linux/mount.h).
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  ATIME_MASK: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

export interface ParsedMountOptions {
  /** MS_* flags for mount(2), propagation excluded. */
  flags: number;
  /** One of MS_SHARED/PRIVATE/SLAVE/UNBINDABLE, with MS_REC for the r-forms; 0 when none. The last one wins. */
  propagation: number;
  /** mount_setattr attributes set / cleared recursively (the rro, rnosuid, ... options). */
  attrSet: number;
  attrClr: number;
  /** Options the kernel's filesystem parses, joined by ",". */
  data: string;
  /** bind or rbind was among the options. */
  bind: boolean;
  /** tmpcopyup: the new tmpfs starts with a copy of what the image has at the destination. */
  copyUp: boolean;
}

export class MountOptionError extends Error {
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`mount option "${option}": ${reason}`);
    this.name = "MountOptionError";
  }
}

// [set, clear] pairs: an option sets some flags and clears others, in order.
const FLAG_OPTIONS: Record<string, readonly [number, number]> = {
  defaults: [0, 0],
  ro: [MS.RDONLY, 0],
  rw: [0, MS.RDONLY],
  suid: [0, MS.NOSUID],
  nosuid: [MS.NOSUID, 0],
  dev: [0, MS.NODEV],
  nodev: [MS.NODEV, 0],
  exec: [0, MS.NOEXEC],
  noexec: [MS.NOEXEC, 0],
  sync: [MS.SYNCHRONOUS, 0],
  async: [0, MS.SYNCHRONOUS],
  dirsync: [MS.DIRSYNC, 0],
  remount: [MS.REMOUNT, 0],
  mand: [MS.MANDLOCK, 0],
  nomand: [0, MS.MANDLOCK],
  atime: [0, MS.NOATIME],
  noatime: [MS.NOATIME, 0],
  diratime: [0, MS.NODIRATIME],
  nodiratime: [MS.NODIRATIME, 0],
  relatime: [MS.RELATIME, 0],
  norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0],
  nostrictatime: [0, MS.STRICTATIME],
  lazytime: [MS.LAZYTIME, 0],
  nolazytime: [0, MS.LAZYTIME],
  iversion: [MS.I_VERSION, 0],
  noiversion: [0, MS.I_VERSION],
  silent: [MS.SILENT, 0],
  loud: [0, MS.SILENT],
  symfollow: [0, MS.NOSYMFOLLOW],
  nosymfollow: [MS.NOSYMFOLLOW, 0],
  bind: [MS.BIND, 0],
  rbind: [MS.BIND | MS.REC, 0],
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

// [set, clear] for mount_setattr with AT_RECURSIVE. An atime mode always clears the
// whole atime field: the kernel requires that and the modes are exclusive.
const RECURSIVE_OPTIONS: Record<string, readonly [number, number]> = {
  rro: [MOUNT_ATTR.RDONLY, 0],
  rrw: [0, MOUNT_ATTR.RDONLY],
  rnosuid: [MOUNT_ATTR.NOSUID, 0],
  rsuid: [0, MOUNT_ATTR.NOSUID],
  rnodev: [MOUNT_ATTR.NODEV, 0],
  rdev: [0, MOUNT_ATTR.NODEV],
  rnoexec: [MOUNT_ATTR.NOEXEC, 0],
  rexec: [0, MOUNT_ATTR.NOEXEC],
  rnodiratime: [MOUNT_ATTR.NODIRATIME, 0],
  rdiratime: [0, MOUNT_ATTR.NODIRATIME],
  rnosymfollow: [MOUNT_ATTR.NOSYMFOLLOW, 0],
  rsymfollow: [0, MOUNT_ATTR.NOSYMFOLLOW],
  rrelatime: [MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME_MASK],
  rnorelatime: [MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME_MASK],
  ratime: [MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME_MASK],
  rnoatime: [MOUNT_ATTR.NOATIME, MOUNT_ATTR.ATIME_MASK],
  rstrictatime: [MOUNT_ATTR.STRICTATIME, MOUNT_ATTR.ATIME_MASK],
  rnostrictatime: [MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME_MASK],
};

const REJECTED: Record<string, string> = {
  idmap: "is not supported by tsshim (id-mapped mounts)",
  ridmap: "is not supported by tsshim (id-mapped mounts)",
};

/** Parses one mount's options in order; later options override earlier ones as in mount(8). */
export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  let attrSet = 0;
  let attrClr = 0;
  let bind = false;
  let copyUp = false;
  const data: string[] = [];
  for (const opt of options) {
    const rejected = REJECTED[opt];
    if (rejected !== undefined) throw new MountOptionError(opt, rejected);
    if (opt === "tmpcopyup") {
      copyUp = true;
      continue;
    }
    const flag = FLAG_OPTIONS[opt];
    if (flag !== undefined) {
      flags = (flags | flag[0]) & ~flag[1];
      if (opt === "bind" || opt === "rbind") bind = true;
      continue;
    }
    const prop = PROPAGATION_OPTIONS[opt];
    if (prop !== undefined) {
      propagation = prop;
      continue;
    }
    const rec = RECURSIVE_OPTIONS[opt];
    if (rec !== undefined) {
      const [set, clr] = rec;
      if (clr === MOUNT_ATTR.ATIME_MASK) {
        attrSet = (attrSet & ~MOUNT_ATTR.ATIME_MASK) | set;
        attrClr |= MOUNT_ATTR.ATIME_MASK;
      } else {
        attrSet = (attrSet | set) & ~clr;
        attrClr = (attrClr | clr) & ~set;
      }
      continue;
    }
    if (opt === "") throw new MountOptionError(opt, "is empty");
    // Options for userspace mount helpers (x-systemd.*, x-containerd.*) never reach the kernel.
    if (opt.startsWith("x-")) continue;
    if (opt.includes(",")) throw new MountOptionError(opt, "contains a comma; give each option separately");
    data.push(opt);
  }
  return { flags, propagation, attrSet, attrClr, data: data.join(","), bind, copyUp };
}

/** Flags a bind mount can only get through a second MS_REMOUNT|MS_BIND call (mount(2) ignores them with MS_BIND). */
export function bindRemountFlags(flags: number): number {
  const perMount = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  return perMount === 0 ? 0 : MS.REMOUNT | MS.BIND | perMount;
}
