import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  parseSpec,
  SpecError,
  SUPPORTED,
  validateExecProcess,
  validateLinuxResources,
  validateSpec,
} from "../../src/oci/validate.js";

// `runc spec` output (runc 1.1), verbatim.
const RUNC_SPEC = `{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": true,
    "user": { "uid": 0, "gid": 0 },
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "runc",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
  ],
  "linux": {
    "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
    "namespaces": [{ "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
      "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}`;

type Json = Record<string, unknown>;

function runcSpec(): Json {
  return JSON.parse(RUNC_SPEC) as Json;
}

// A spec that sets every Linux field the spec defines, each to a valid value.
function fullSpec(): Json {
  const s = runcSpec();
  const proc = s["process"] as Json;
  Object.assign(proc, {
    consoleSize: { height: 24, width: 80 },
    user: { uid: 1000, gid: 1000, umask: 0o22, additionalGids: [5, 10] },
    capabilities: {
      bounding: ["CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"],
      effective: ["CAP_SYS_ADMIN"],
      inheritable: [],
      permitted: ["CAP_SYS_ADMIN"],
      ambient: [],
    },
    rlimits: [
      { type: "RLIMIT_NOFILE", hard: 4096, soft: 1024 },
      { type: "RLIMIT_CORE", hard: JSON.parse("18446744073709551615") as number, soft: 0 },
    ],
    apparmorProfile: "",
    oomScoreAdj: -500,
    selinuxLabel: "",
    ioPriority: { class: "IOPRIO_CLASS_BE", priority: 4 },
    scheduler: { policy: "SCHED_OTHER", nice: 5, flags: ["SCHED_FLAG_RESET_ON_FORK"] },
    execCPUAffinity: { initial: "0", final: "0-1,3" },
  });
  s["domainname"] = "example.org";
  s["annotations"] = { "io.kubernetes.cri.container-type": "container", anything: "goes" };
  s["hooks"] = {
    prestart: [{ path: "/bin/true" }],
    createRuntime: [{ path: "/usr/bin/hook", args: ["hook", "create"], env: ["A=1"], timeout: 5 }],
    createContainer: [{ path: "/bin/true" }],
    startContainer: [{ path: "/bin/true" }],
    poststart: [{ path: "/bin/true" }],
    poststop: [{ path: "/bin/true" }],
  };
  (s["mounts"] as Json[]).push(
    {
      destination: "/data",
      type: "bind",
      source: "/srv/data",
      options: ["rbind", "rprivate", "rro", "nosymfollow"],
    },
    {
      destination: "/idm",
      type: "bind",
      source: "/srv/idm",
      options: ["bind", "idmap", "x-kubelet"],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    },
    { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "noatime", "lazytime"] },
  );
  const linux = s["linux"] as Json;
  Object.assign(linux, {
    namespaces: [
      { type: "pid" },
      { type: "network", path: "/var/run/netns/cni-1" },
      { type: "ipc" },
      { type: "uts" },
      { type: "mount" },
      { type: "user" },
      { type: "cgroup" },
      { type: "time" },
    ],
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    timeOffsets: { monotonic: { secs: 3600, nanosecs: 0 }, boottime: { secs: -10 } },
    devices: [
      { type: "c", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { type: "p", path: "/dev/myfifo" },
    ],
    netDevices: { eth1: { name: "net1" } },
    cgroupsPath: "kubepods-besteffort-pod1.slice:cri-containerd:abc",
    resources: {
      devices: [
        { allow: false, access: "rwm" },
        { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
      ],
      memory: {
        limit: 536870912,
        reservation: 268435456,
        swap: 536870912,
        swappiness: 60,
        disableOOMKiller: false,
      },
      cpu: {
        shares: 1024,
        quota: 50000,
        period: 100000,
        burst: 0,
        realtimeRuntime: 0,
        realtimePeriod: 0,
        cpus: "0-1",
        mems: "0",
        idle: 0,
      },
      pids: { limit: 100 },
      blockIO: {
        weight: 500,
        leafWeight: 300,
        weightDevice: [{ major: 8, minor: 0, weight: 500 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      },
      hugepageLimits: [{ pageSize: "2MB", limit: 209715200 }],
      network: { classID: 1048577, priorities: [{ name: "eth0", priority: 500 }] },
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
      unified: { "memory.high": "max", "io.weight": "100", "hugetlb.2MB.max": "max" },
    },
    rootfsPropagation: "rslave",
    seccomp: {
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      flags: ["SECCOMP_FILTER_FLAG_LOG"],
      listenerPath: "/run/seccomp-agent.sock",
      listenerMetadata: "meta",
      syscalls: [
        { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
        {
          names: ["personality"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 0, op: "SCMP_CMP_EQ" }],
        },
        {
          names: ["clone"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 2114060288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
        },
        { names: ["mkdir"], action: "SCMP_ACT_NOTIFY" },
        { names: ["ptrace"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      ],
    },
    sysctl: {
      "net.ipv4.ip_forward": "1",
      "kernel.shmmax": "68719476736",
      "fs.mqueue.msg_max": "10",
      "net/ipv4/conf/all/rp_filter": "1",
    },
    mountLabel: "",
    personality: { domain: "LINUX32", flags: [] },
    intelRdt: {
      closID: "guaranteed",
      schemata: ["L3:0=ff"],
      l3CacheSchema: "L3:0=ff",
      memBwSchema: "MB:0=50",
      enableMonitoring: true,
    },
    memoryPolicy: { mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES"] },
  });
  s["windows"] = { layerFolders: ["C:\\layers"], anything: { at: "all" } };
  s["solaris"] = { milestone: "x" };
  s["vm"] = { kernel: { path: "/vmlinuz" } };
  s["zos"] = { namespaces: [] };
  return s;
}

function rejects(mutate: (s: Json) => void, field: string, message: string): void {
  const s = fullSpec();
  mutate(s);
  assert.throws(
    () => validateSpec(s),
    (e: unknown) => {
      assert.ok(e instanceof SpecError, `not a SpecError: ${String(e)}`);
      assert.equal(e.message, message);
      assert.equal(e.field, field);
      return true;
    },
  );
}

const p = (s: Json) => s["process"] as Json;
const l = (s: Json) => s["linux"] as Json;
const res = (s: Json) => l(s)["resources"] as Json;
const sec = (s: Json) => l(s)["seccomp"] as Json;
const mounts = (s: Json) => s["mounts"] as Json[];

describe("config.json validation", () => {
  it("accepts runc spec output and returns it typed", () => {
    const spec = parseSpec(RUNC_SPEC);
    assert.equal(spec.ociVersion, "1.0.2-dev");
    assert.deepEqual(spec.process?.args, ["sh"]);
    assert.equal(spec.root?.path, "rootfs");
    assert.equal(spec.linux?.namespaces?.length, 5);
  });

  it("accepts a spec that sets every Linux field, and other platforms' sections", () => {
    const spec = validateSpec(fullSpec());
    assert.equal(spec.linux?.resources?.pids?.limit, 100);
    assert.equal(spec.linux?.seccomp?.syscalls?.[2]?.args?.[0]?.op, "SCMP_CMP_MASKED_EQ");
  });

  it("accepts a spec without process (a bundle for create only)", () => {
    const s = runcSpec();
    delete s["process"];
    assert.equal(validateSpec(s).process, undefined);
  });

  it("reports JSON syntax errors with line and column", () => {
    assert.throws(
      () => parseSpec('{\n  "ociVersion": "1.0.2",\n  "root": }'),
      (e: unknown) => {
        assert.ok(e instanceof SpecError);
        assert.equal(e.field, "");
        assert.match(e.message, /^invalid JSON at line 3 column 11: /);
        return true;
      },
    );
    assert.throws(() => parseSpec(""), /^SpecError: invalid JSON at /);
  });

  it("rejects a document that is not an object", () => {
    assert.throws(() => validateSpec([]), { message: "must be an object, got an array" });
  });

  it("rejects wrong types, naming the field", () => {
    rejects(
      (s) => {
        s["ociVersion"] = 1;
      },
      "ociVersion",
      "ociVersion: must be a string, got number 1",
    );
    rejects(
      (s) => {
        p(s)["terminal"] = "yes";
      },
      "process.terminal",
      'process.terminal: must be a boolean, got string "yes"',
    );
    rejects(
      (s) => {
        p(s)["args"] = "sh";
      },
      "process.args",
      'process.args: must be an array, got string "sh"',
    );
    rejects(
      (s) => {
        p(s)["env"] = ["A=1", 2];
      },
      "process.env[1]",
      "process.env[1]: must be a string, got number 2",
    );
    rejects(
      (s) => {
        (p(s)["user"] as Json)["uid"] = -1;
      },
      "process.user.uid",
      "process.user.uid: -1 is out of range [0, 4294967295]",
    );
    rejects(
      (s) => {
        (p(s)["user"] as Json)["gid"] = 1.5;
      },
      "process.user.gid",
      "process.user.gid: must be an integer, got number 1.5",
    );
    rejects(
      (s) => {
        res(s)["pids"] = { limit: "100" };
      },
      "linux.resources.pids.limit",
      'linux.resources.pids.limit: must be an integer, got string "100"',
    );
    rejects(
      (s) => {
        s["annotations"] = { a: 1 };
      },
      "annotations.a",
      "annotations.a: must be a string, got number 1",
    );
    rejects(
      (s) => {
        l(s)["sysctl"] = { "net.core.somaxconn": 1024 };
      },
      'linux.sysctl["net.core.somaxconn"]',
      'linux.sysctl["net.core.somaxconn"]: must be a string, got number 1024',
    );
    rejects(
      (s) => {
        s["linux"] = null;
      },
      "linux",
      "linux: must be an object, got null",
    );
  });

  it("rejects unknown properties but ignores annotations and other platforms", () => {
    rejects(
      (s) => {
        s["foo"] = 1;
      },
      "foo",
      "foo: unknown property",
    );
    rejects(
      (s) => {
        l(s)["namespace"] = [];
      },
      "linux.namespace",
      "linux.namespace: unknown property",
    );
    rejects(
      (s) => {
        (res(s)["memory"] as Json)["limt"] = 1;
      },
      "linux.resources.memory.limt",
      "linux.resources.memory.limt: unknown property",
    );
    rejects(
      (s) => {
        (mounts(s)[0] as Json)["option"] = [];
      },
      "mounts[0].option",
      "mounts[0].option: unknown property",
    );
    const s = fullSpec();
    (s["annotations"] as Json)["org.example/unknown"] = "kept";
    assert.equal(validateSpec(s).annotations?.["org.example/unknown"], "kept");
  });

  it("rejects missing required fields", () => {
    rejects(
      (s) => {
        delete s["ociVersion"];
      },
      "ociVersion",
      "ociVersion: is required",
    );
    rejects(
      (s) => {
        delete s["root"];
      },
      "root",
      "root: is required",
    );
    rejects(
      (s) => {
        s["root"] = { readonly: true };
      },
      "root.path",
      "root.path: is required",
    );
    rejects(
      (s) => {
        s["root"] = { path: "" };
      },
      "root.path",
      "root.path: must not be empty",
    );
    rejects(
      (s) => {
        delete p(s)["args"];
      },
      "process.args",
      "process.args: is required",
    );
    rejects(
      (s) => {
        p(s)["args"] = [];
      },
      "process.args",
      "process.args: must not be empty",
    );
    rejects(
      (s) => {
        delete p(s)["cwd"];
      },
      "process.cwd",
      "process.cwd: is required",
    );
    rejects(
      (s) => {
        delete p(s)["user"];
      },
      "process.user",
      "process.user: is required",
    );
    rejects(
      (s) => {
        mounts(s)[2] = { type: "tmpfs" };
      },
      "mounts[2].destination",
      "mounts[2].destination: is required",
    );
    rejects(
      (s) => {
        res(s)["pids"] = {};
      },
      "linux.resources.pids.limit",
      "linux.resources.pids.limit: is required",
    );
    rejects(
      (s) => {
        delete sec(s)["defaultAction"];
      },
      "linux.seccomp.defaultAction",
      "linux.seccomp.defaultAction: is required",
    );
  });

  it("rejects an unsupported ociVersion", () => {
    rejects(
      (s) => {
        s["ociVersion"] = "2.0.0";
      },
      "ociVersion",
      'ociVersion: unsupported version "2.0.0" (want 1.x.y)',
    );
    rejects(
      (s) => {
        s["ociVersion"] = "1.0";
      },
      "ociVersion",
      'ociVersion: unsupported version "1.0" (want 1.x.y)',
    );
  });

  it("rejects relative paths", () => {
    rejects(
      (s) => {
        p(s)["cwd"] = "work";
      },
      "process.cwd",
      'process.cwd: must be an absolute path, got "work"',
    );
    rejects(
      (s) => {
        (mounts(s)[1] as Json)["destination"] = "dev";
      },
      "mounts[1].destination",
      'mounts[1].destination: must be an absolute path, got "dev"',
    );
    rejects(
      (s) => {
        ((s["hooks"] as Json)["poststop"] as Json[])[0] = { path: "true" };
      },
      "hooks.poststop[0].path",
      'hooks.poststop[0].path: must be an absolute path, got "true"',
    );
    rejects(
      (s) => {
        (l(s)["namespaces"] as Json[])[1] = { type: "network", path: "netns" };
      },
      "linux.namespaces[1].path",
      'linux.namespaces[1].path: must be an absolute path, got "netns"',
    );
    rejects(
      (s) => {
        l(s)["maskedPaths"] = ["/proc/kcore", "proc/keys"];
      },
      "linux.maskedPaths[1]",
      'linux.maskedPaths[1]: must be an absolute path, got "proc/keys"',
    );
    rejects(
      (s) => {
        ((l(s)["devices"] as Json[])[0] as Json)["path"] = "dev/fuse";
      },
      "linux.devices[0].path",
      'linux.devices[0].path: must be an absolute path, got "dev/fuse"',
    );
  });

  it("rejects bad namespaces", () => {
    rejects(
      (s) => {
        (l(s)["namespaces"] as Json[])[2] = { type: "foo" };
      },
      "linux.namespaces[2].type",
      'linux.namespaces[2].type: unknown namespace type "foo"',
    );
    rejects(
      (s) => {
        (l(s)["namespaces"] as Json[]).push({ type: "pid" });
      },
      "linux.namespaces[8].type",
      'linux.namespaces[8].type: duplicate namespace type "pid"',
    );
    rejects(
      (s) => {
        l(s)["namespaces"] = [{ type: "mount" }, { type: "user" }];
        delete l(s)["sysctl"];
        delete l(s)["timeOffsets"];
        delete l(s)["netDevices"];
        s["hostname"] = "";
        delete s["domainname"];
        delete l(s)["uidMappings"];
      },
      "linux.uidMappings",
      "linux.uidMappings: are required for a new user namespace",
    );
    rejects(
      (s) => {
        l(s)["namespaces"] = [{ type: "mount" }, { type: "uts" }];
        delete l(s)["sysctl"];
        delete l(s)["timeOffsets"];
        delete l(s)["netDevices"];
      },
      "linux.uidMappings",
      'linux.uidMappings: needs a "user" namespace in linux.namespaces',
    );
    rejects(
      (s) => {
        l(s)["namespaces"] = [{ type: "mount" }];
        delete l(s)["uidMappings"];
        delete l(s)["gidMappings"];
        delete l(s)["sysctl"];
        delete l(s)["timeOffsets"];
        delete l(s)["netDevices"];
      },
      "hostname",
      'hostname: needs a "uts" namespace in linux.namespaces',
    );
  });

  it("rejects bad rlimits", () => {
    rejects(
      (s) => {
        p(s)["rlimits"] = [{ type: "RLIMIT_FOO", hard: 1, soft: 1 }];
      },
      "process.rlimits[0].type",
      'process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"',
    );
    rejects(
      (s) => {
        p(s)["rlimits"] = [{ type: "RLIMIT_NOFILE", hard: 10, soft: 20 }];
      },
      "process.rlimits[0]",
      "process.rlimits[0]: soft limit 20 is above hard limit 10",
    );
    rejects(
      (s) => {
        p(s)["rlimits"] = [
          { type: "RLIMIT_AS", hard: 1, soft: 1 },
          { type: "RLIMIT_AS", hard: 2, soft: 2 },
        ];
      },
      "process.rlimits[1].type",
      'process.rlimits[1].type: duplicate rlimit "RLIMIT_AS"',
    );
  });

  it("rejects unknown capabilities", () => {
    rejects(
      (s) => {
        (p(s)["capabilities"] as Json)["effective"] = ["CAP_KILL", "CAP_FLY"];
      },
      "process.capabilities.effective[1]",
      'process.capabilities.effective[1]: unknown capability "CAP_FLY"',
    );
    rejects(
      (s) => {
        (p(s)["capabilities"] as Json)["ambient"] = ["KILL"];
      },
      "process.capabilities.ambient[0]",
      'process.capabilities.ambient[0]: unknown capability "KILL"',
    );
  });

  it("checks mount options against the known set, allowing key=value data", () => {
    rejects(
      (s) => {
        (mounts(s)[1] as Json)["options"] = ["nosuid", "frobnicate"];
      },
      "mounts[1].options[1]",
      'mounts[1].options[1]: unknown mount option "frobnicate"',
    );
    rejects(
      (s) => {
        (mounts(s)[1] as Json)["options"] = ["=755"];
      },
      "mounts[1].options[0]",
      'mounts[1].options[0]: unknown mount option "=755"',
    );
    const s = fullSpec();
    const every = [
      ...Object.keys(SUPPORTED.mountFlags),
      ...SUPPORTED.mountPropagation,
      ...SUPPORTED.mountRecursive,
      ...SUPPORTED.mountExtensions,
      "mode=0755",
      "lowerdir=/a:/b",
      'context="system_u:object_r:x:s0"',
      "x-systemd.automount",
    ];
    mounts(s).push({ destination: "/all", type: "bind", source: "/srv", options: every });
    validateSpec(s);
  });

  it("rejects bad devices", () => {
    rejects(
      (s) => {
        (l(s)["devices"] as Json[])[0] = { type: "x", path: "/dev/x", major: 1, minor: 1 };
      },
      "linux.devices[0].type",
      'linux.devices[0].type: unknown device type "x"',
    );
    rejects(
      (s) => {
        (l(s)["devices"] as Json[])[0] = { type: "b", path: "/dev/sda", minor: 0 };
      },
      "linux.devices[0].major",
      'linux.devices[0].major: is required for device type "b"',
    );
    rejects(
      (s) => {
        res(s)["devices"] = [{ allow: true, access: "rwx" }];
      },
      "linux.resources.devices[0].access",
      'linux.resources.devices[0].access: must be a combination of "r", "w", "m", got "rwx"',
    );
  });

  it("rejects sysctls that are not namespaced or lack their namespace", () => {
    rejects(
      (s) => {
        l(s)["sysctl"] = { "kernel.panic": "1" };
      },
      'linux.sysctl["kernel.panic"]',
      'linux.sysctl["kernel.panic"]: is not namespaced and cannot be set in a container',
    );
    rejects(
      (s) => {
        l(s)["sysctl"] = { "bad name": "1" };
      },
      'linux.sysctl["bad name"]',
      'linux.sysctl["bad name"]: is not a sysctl name',
    );
    rejects(
      (s) => {
        l(s)["namespaces"] = (l(s)["namespaces"] as Json[]).filter((n) => n["type"] !== "ipc");
      },
      'linux.sysctl["kernel.shmmax"]',
      'linux.sysctl["kernel.shmmax"]: needs a "ipc" namespace in linux.namespaces',
    );
  });

  it("rejects bad seccomp profiles", () => {
    rejects(
      (s) => {
        sec(s)["defaultAction"] = "SCMP_ACT_BLOCK";
      },
      "linux.seccomp.defaultAction",
      'linux.seccomp.defaultAction: unknown action "SCMP_ACT_BLOCK"',
    );
    rejects(
      (s) => {
        sec(s)["architectures"] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_AMD64"];
      },
      "linux.seccomp.architectures[1]",
      'linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_AMD64"',
    );
    rejects(
      (s) => {
        (sec(s)["syscalls"] as Json[])[1] = {
          names: ["personality"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 0, op: "SCMP_CMP_MATCH" }],
        };
      },
      "linux.seccomp.syscalls[1].args[0].op",
      'linux.seccomp.syscalls[1].args[0].op: unknown operator "SCMP_CMP_MATCH"',
    );
    rejects(
      (s) => {
        (sec(s)["syscalls"] as Json[])[1] = {
          names: ["personality"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }],
        };
      },
      "linux.seccomp.syscalls[1].args[0].index",
      "linux.seccomp.syscalls[1].args[0].index: 6 is out of range [0, 5]",
    );
    rejects(
      (s) => {
        (sec(s)["syscalls"] as Json[])[0] = { names: [], action: "SCMP_ACT_ALLOW" };
      },
      "linux.seccomp.syscalls[0].names",
      "linux.seccomp.syscalls[0].names: must not be empty",
    );
    rejects(
      (s) => {
        sec(s)["flags"] = ["SECCOMP_FILTER_FLAG_FAST"];
      },
      "linux.seccomp.flags[0]",
      'linux.seccomp.flags[0]: unknown seccomp flag "SECCOMP_FILTER_FLAG_FAST"',
    );
    rejects(
      (s) => {
        delete sec(s)["listenerPath"];
      },
      "linux.seccomp.listenerPath",
      "linux.seccomp.listenerPath: is required when an action is SCMP_ACT_NOTIFY",
    );
  });

  it("rejects bad id mappings, hooks, personality and resources", () => {
    rejects(
      (s) => {
        l(s)["uidMappings"] = [{ containerID: 0, hostID: 1000 }];
      },
      "linux.uidMappings[0].size",
      "linux.uidMappings[0].size: is required",
    );
    rejects(
      (s) => {
        l(s)["gidMappings"] = [{ containerID: 0, hostID: 1000, size: 0 }];
      },
      "linux.gidMappings[0].size",
      "linux.gidMappings[0].size: 0 is out of range [1, 4294967295]",
    );
    rejects(
      (s) => {
        ((s["hooks"] as Json)["createRuntime"] as Json[])[0] = { path: "/bin/x", timeout: 0 };
      },
      "hooks.createRuntime[0].timeout",
      "hooks.createRuntime[0].timeout: 0 is out of range [1, 2147483647]",
    );
    rejects(
      (s) => {
        (s["hooks"] as Json)["prestop"] = [];
      },
      "hooks.prestop",
      "hooks.prestop: unknown property",
    );
    rejects(
      (s) => {
        l(s)["personality"] = { domain: "LINUX64" };
      },
      "linux.personality.domain",
      'linux.personality.domain: unknown personality domain "LINUX64"',
    );
    rejects(
      (s) => {
        (res(s)["hugepageLimits"] as Json[])[0] = { pageSize: "2M", limit: 1 };
      },
      "linux.resources.hugepageLimits[0].pageSize",
      'linux.resources.hugepageLimits[0].pageSize: must look like "2MB" or "1GB", got "2M"',
    );
    rejects(
      (s) => {
        res(s)["unified"] = { "../escape": "1" };
      },
      'linux.resources.unified["../escape"]',
      'linux.resources.unified["../escape"]: is not a cgroup v2 interface file name',
    );
    rejects(
      (s) => {
        (res(s)["cpu"] as Json)["cpus"] = "0-";
      },
      "linux.resources.cpu.cpus",
      'linux.resources.cpu.cpus: must be a list like "0-3,5", got "0-"',
    );
    rejects(
      (s) => {
        p(s)["oomScoreAdj"] = 1001;
      },
      "process.oomScoreAdj",
      "process.oomScoreAdj: 1001 is out of range [-1000, 1000]",
    );
    rejects(
      (s) => {
        p(s)["env"] = ["=x"];
      },
      "process.env[0]",
      'process.env[0]: must be KEY=VALUE, got "=x"',
    );
    rejects(
      (s) => {
        p(s)["args"] = ["sh", "a\0b"];
      },
      "process.args[1]",
      "process.args[1]: contains a NUL byte",
    );
    rejects(
      (s) => {
        p(s)["env"] = ["A=\0"];
      },
      "process.env[0]",
      "process.env[0]: contains a NUL byte",
    );
    rejects(
      (s) => {
        l(s)["rootfsPropagation"] = "recursive";
      },
      "linux.rootfsPropagation",
      'linux.rootfsPropagation: unknown propagation "recursive"',
    );
    rejects(
      (s) => {
        l(s)["timeOffsets"] = { realtime: { secs: 1 } };
      },
      "linux.timeOffsets.realtime",
      'linux.timeOffsets.realtime: must be "boottime" or "monotonic"',
    );
  });

  it("validates an Exec process and Update resources on their own", () => {
    const proc = validateExecProcess({ user: { uid: 0, gid: 0 }, args: ["ls"], cwd: "/", terminal: false });
    assert.deepEqual(proc.args, ["ls"]);
    assert.throws(() => validateExecProcess({ user: { uid: 0, gid: 0 }, args: [], cwd: "/" }), {
      name: "SpecError",
      message: "process.args: must not be empty",
    });
    assert.equal(validateLinuxResources({ pids: { limit: 10 } }).pids?.limit, 10);
    assert.throws(() => validateLinuxResources({ memory: { limit: "1G" } }), {
      message: 'resources.memory.limit: must be an integer, got string "1G"',
    });
  });

  it("exposes the supported facts other modules need", () => {
    assert.equal(SUPPORTED.namespaces.pid, 0x20000000);
    assert.equal(SUPPORTED.capabilities["CAP_SYS_ADMIN"], 21);
    assert.equal(SUPPORTED.capabilities["CAP_CHECKPOINT_RESTORE"], 40);
    assert.equal(SUPPORTED.rlimits["RLIMIT_NOFILE"], 7);
    assert.deepEqual(SUPPORTED.mountFlags["rbind"], { set: 0x1000 | 0x4000, clear: 0 });
  });

  // Rule 7: bad input gets a SpecError, never a TypeError from inside the validator.
  it("never throws anything but SpecError, whatever the input (fast-check)", () => {
    const onlySpecErrors = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof SpecError)) throw e;
      }
    };
    fc.assert(
      fc.property(fc.string(), (text) => onlySpecErrors(() => parseSpec(text))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => onlySpecErrors(() => validateSpec(v))),
      { numRuns: 300 },
    );
    // Replace one field anywhere in the full spec by an arbitrary JSON value.
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, path: (string | number)[]) => {
      paths.push(path);
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) walk(v[i], [...path, i]);
      } else if (typeof v === "object" && v !== null)
        for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    walk(fullSpec(), []);
    fc.assert(
      fc.property(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.jsonValue(), (path, value) => {
        const s = fullSpec();
        let cur: Record<string | number, unknown> = s;
        for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
        cur[path[path.length - 1]!] = value;
        onlySpecErrors(() => validateSpec(s));
      }),
      { numRuns: 2000 },
    );
  });
});
