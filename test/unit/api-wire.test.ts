// Byte-exact encodings, one or more messages per .proto file. The expected bytes are
// written from containerd's own field numbers (key = field << 3 | wire type), so a
// wrong number, type or packing in proto/ fails here.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  create,
  type DescMessage,
  equals,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { TaskDeleteSchema, TaskExitSchema } from "../../src/api/gen/containerd/events/task_pb.js";
import { OptionsSchema } from "../../src/api/gen/containerd/runc/v1/options_pb.js";
import {
  BootstrapParamsSchema,
  BootstrapResultSchema,
  LogLevel,
} from "../../src/api/gen/containerd/runtime/bootstrap/v1/bootstrap_pb.js";
import { ContainerSchema } from "../../src/api/gen/containerd/services/containers/v1/containers_pb.js";
import { ForwardRequestSchema } from "../../src/api/gen/containerd/services/events/ttrpc/v1/events_pb.js";
import { SubscribeRequestSchema } from "../../src/api/gen/containerd/services/events/v1/events_pb.js";
import {
  MetricsResponseSchema,
  ExecProcessRequestSchema as TasksExecSchema,
} from "../../src/api/gen/containerd/services/tasks/v1/tasks_pb.js";
import { VersionResponseSchema } from "../../src/api/gen/containerd/services/version/v1/version_pb.js";
import {
  CreateTaskRequestSchema,
  ExecProcessRequestSchema,
  StateResponseSchema,
} from "../../src/api/gen/containerd/task/v2/shim_pb.js";
import { StateResponseSchema as StateResponseV3Schema } from "../../src/api/gen/containerd/task/v3/shim_pb.js";
import { DescriptorSchema } from "../../src/api/gen/containerd/types/descriptor_pb.js";
import { EnvelopeSchema } from "../../src/api/gen/containerd/types/event_pb.js";
import { MetricSchema } from "../../src/api/gen/containerd/types/metrics_pb.js";
import { MountSchema } from "../../src/api/gen/containerd/types/mount_pb.js";
import { PlatformSchema } from "../../src/api/gen/containerd/types/platform_pb.js";
import { ProcessSchema, Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import { MetricsSchema as CgroupsV1MetricsSchema } from "../../src/api/gen/io/containerd/cgroups/v1/metrics_pb.js";
import { MetricsSchema as CgroupsV2MetricsSchema } from "../../src/api/gen/io/containerd/cgroups/v2/metrics_pb.js";
import {
  VersionResponseSchema as CriVersionResponseSchema,
  ExecSyncResponseSchema,
  LinuxContainerResourcesSchema,
  Protocol,
  PullImageRequestSchema,
  RunPodSandboxRequestSchema,
} from "../../src/api/gen/runtime/v1/api_pb.js";

type Bytes = number[];

function varint(v: number | bigint): Bytes {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: Bytes = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) b |= 0x80;
    out.push(b);
  } while (n !== 0n);
  return out;
}
const key = (field: number, wireType: number): Bytes => varint((field << 3) | wireType);
/** varint field (int32/uint32/uint64/bool/enum) */
const vi = (field: number, v: number | bigint): Bytes => [...key(field, 0), ...varint(v)];
/** length-delimited field */
const ld = (field: number, payload: Bytes): Bytes => [
  ...key(field, 2),
  ...varint(payload.length),
  ...payload,
];
const str = (field: number, s: string): Bytes => ld(field, [...new TextEncoder().encode(s)]);
const msg = (field: number, ...parts: Bytes[]): Bytes => ld(field, parts.flat());
const packed = (field: number, vals: number[]): Bytes =>
  ld(
    field,
    vals.flatMap((v) => varint(v)),
  );
const f64 = (field: number, x: number): Bytes => {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x, true);
  return [...key(field, 1), ...new Uint8Array(b.buffer)];
};
const ts = (field: number, seconds: number, nanos: number): Bytes => msg(field, vi(1, seconds), vi(2, nanos));
const any = (field: number, typeUrl: string, value: Bytes): Bytes =>
  msg(field, str(1, typeUrl), ld(2, value));

function expectWire<Desc extends DescMessage>(
  schema: Desc,
  init: MessageInitShape<Desc>,
  expected: Bytes,
): void {
  const m = create(schema, init);
  assert.deepEqual([...toBinary(schema, m)], expected, `${schema.typeName} encoding`);
  assert.ok(equals(schema, fromBinary(schema, Uint8Array.from(expected)), m), `${schema.typeName} decoding`);
}

describe("containerd.types and containerd.v1.types", () => {
  test("Mount", () => {
    expectWire(
      MountSchema,
      { type: "overlay", source: "overlay", target: "/t", options: ["ro", "lowerdir=/a"] },
      [
        ...str(1, "overlay"),
        ...str(2, "overlay"),
        ...str(3, "/t"),
        ...str(4, "ro"),
        ...str(4, "lowerdir=/a"),
      ],
    );
  });

  test("Metric carries its Any in field 3", () => {
    expectWire(
      MetricSchema,
      {
        timestamp: { seconds: 5n, nanos: 6 },
        id: "c1",
        data: { typeUrl: "x.Y", value: new Uint8Array([8, 1]) },
      },
      [...ts(1, 5, 6), ...str(2, "c1"), ...any(3, "x.Y", [8, 1])],
    );
  });

  test("Platform (os_version and os_features are 4 and 5)", () => {
    expectWire(
      PlatformSchema,
      { os: "linux", architecture: "amd64", variant: "v2", osVersion: "10", osFeatures: ["f"] },
      [...str(1, "linux"), ...str(2, "amd64"), ...str(3, "v2"), ...str(4, "10"), ...str(5, "f")],
    );
  });

  test("Descriptor skips field 4 (annotations are 5)", () => {
    expectWire(
      DescriptorSchema,
      { mediaType: "m", digest: "sha256:ab", size: 300n, annotations: { k: "v" } },
      [...str(1, "m"), ...str(2, "sha256:ab"), ...vi(3, 300), ...msg(5, str(1, "k"), str(2, "v"))],
    );
  });

  test("Envelope (containerd.types, 2.x)", () => {
    expectWire(
      EnvelopeSchema,
      { timestamp: { seconds: 1n }, namespace: "default", topic: "/tasks/oom", event: { typeUrl: "a.B" } },
      [...msg(1, vi(1, 1)), ...str(2, "default"), ...str(3, "/tasks/oom"), ...msg(4, str(1, "a.B"))],
    );
  });

  test("Process with status enum and exited_at", () => {
    expectWire(
      ProcessSchema,
      {
        containerId: "c",
        id: "e",
        pid: 42,
        status: Status.STOPPED,
        stdin: "i",
        stdout: "o",
        stderr: "r",
        terminal: true,
        exitStatus: 137,
        exitedAt: { seconds: 2n, nanos: 3 },
      },
      [
        ...str(1, "c"),
        ...str(2, "e"),
        ...vi(3, 42),
        ...vi(4, 3),
        ...str(5, "i"),
        ...str(6, "o"),
        ...str(7, "r"),
        ...vi(8, 1),
        ...vi(9, 137),
        ...ts(10, 2, 3),
      ],
    );
    assert.deepEqual(
      [Status.UNKNOWN, Status.CREATED, Status.RUNNING, Status.PAUSED, Status.PAUSING],
      [0, 1, 2, 4, 5],
    );
  });
});

describe("containerd.task.v2 / v3 shim API", () => {
  test("CreateTaskRequest: rootfs 3, options 10", () => {
    expectWire(
      CreateTaskRequestSchema,
      {
        id: "c",
        bundle: "/b",
        rootfs: [{ type: "bind", source: "/s" }],
        terminal: true,
        stdin: "i",
        stdout: "o",
        stderr: "e",
        checkpoint: "cp",
        parentCheckpoint: "pc",
        options: { typeUrl: "containerd.runc.v1.Options", value: new Uint8Array([0x32, 1, 0x78]) },
      },
      [
        ...str(1, "c"),
        ...str(2, "/b"),
        ...msg(3, str(1, "bind"), str(2, "/s")),
        ...vi(4, 1),
        ...str(5, "i"),
        ...str(6, "o"),
        ...str(7, "e"),
        ...str(8, "cp"),
        ...str(9, "pc"),
        ...any(10, "containerd.runc.v1.Options", [0x32, 1, 0x78]),
      ],
    );
  });

  test("ExecProcessRequest: spec is 7", () => {
    expectWire(
      ExecProcessRequestSchema,
      { id: "c", execId: "x", terminal: false, stdin: "", stdout: "o", stderr: "e", spec: { typeUrl: "u" } },
      [...str(1, "c"), ...str(2, "x"), ...str(5, "o"), ...str(6, "e"), ...msg(7, str(1, "u"))],
    );
  });

  const state = {
    id: "c",
    bundle: "/b",
    pid: 7,
    status: Status.RUNNING,
    terminal: true,
    exitStatus: 1,
    exitedAt: { seconds: 9n },
    execId: "x",
  };
  const stateBytes = [
    ...str(1, "c"),
    ...str(2, "/b"),
    ...vi(3, 7),
    ...vi(4, 2),
    ...vi(8, 1),
    ...vi(9, 1),
    ...msg(10, vi(1, 9)),
    ...str(11, "x"),
  ];

  test("StateResponse: exec_id is 11", () => {
    expectWire(StateResponseSchema, state, stateBytes);
  });

  test("v3 declares its own messages with the same bytes", () => {
    assert.equal(StateResponseV3Schema.typeName, "containerd.task.v3.StateResponse");
    expectWire(StateResponseV3Schema, state, stateBytes);
  });
});

describe("containerd.events", () => {
  test("TaskExit, hand-written bytes", () => {
    // 0a 01 63 = container_id "c"; 12 01 78 = id "x"; 18 2a = pid 42;
    // 20 89 01 = exit_status 137; 2a 04 08 01 10 02 = exited_at {1s, 2ns}
    const bytes = [
      0x0a, 0x01, 0x63, 0x12, 0x01, 0x78, 0x18, 0x2a, 0x20, 0x89, 0x01, 0x2a, 0x04, 0x08, 0x01, 0x10, 0x02,
    ];
    expectWire(
      TaskExitSchema,
      { containerId: "c", id: "x", pid: 42, exitStatus: 137, exitedAt: { seconds: 1n, nanos: 2 } },
      bytes,
    );
  });

  test("TaskDelete: id is 5, after exited_at", () => {
    expectWire(
      TaskDeleteSchema,
      { containerId: "c", pid: 1, exitStatus: 2, exitedAt: { seconds: 3n }, id: "x" },
      [...str(1, "c"), ...vi(2, 1), ...vi(3, 2), ...msg(4, vi(1, 3)), ...str(5, "x")],
    );
  });
});

describe("containerd services", () => {
  test("ttrpc Events.Forward request", () => {
    expectWire(
      ForwardRequestSchema,
      {
        envelope: {
          timestamp: { seconds: 4n },
          namespace: "ns",
          topic: "/tasks/exit",
          event: { typeUrl: "containerd.events.TaskExit", value: new Uint8Array([0x18, 1]) },
        },
      },
      msg(
        1,
        msg(1, vi(1, 4)),
        str(2, "ns"),
        str(3, "/tasks/exit"),
        any(4, "containerd.events.TaskExit", [0x18, 1]),
      ),
    );
  });

  test("gRPC Events.Subscribe request", () => {
    expectWire(SubscribeRequestSchema, { filters: ["namespace==default", "topic~=/tasks/"] }, [
      ...str(1, "namespace==default"),
      ...str(1, "topic~=/tasks/"),
    ]);
  });

  test("Tasks.Exec request: spec 6, exec_id 7", () => {
    expectWire(
      TasksExecSchema,
      {
        containerId: "c",
        stdin: "i",
        stdout: "o",
        stderr: "e",
        terminal: true,
        spec: { typeUrl: "u" },
        execId: "x",
      },
      [
        ...str(1, "c"),
        ...str(2, "i"),
        ...str(3, "o"),
        ...str(4, "e"),
        ...vi(5, 1),
        ...msg(6, str(1, "u")),
        ...str(7, "x"),
      ],
    );
  });

  test("Tasks.Metrics response", () => {
    expectWire(MetricsResponseSchema, { metrics: [{ id: "a" }, { id: "b" }] }, [
      ...msg(1, str(2, "a")),
      ...msg(1, str(2, "b")),
    ]);
  });

  test("Container: runtime 4, extensions map of Any 10, sandbox 11", () => {
    expectWire(
      ContainerSchema,
      {
        id: "c",
        labels: { l: "v" },
        image: "img",
        runtime: { name: "io.containerd.tsshim.v2", options: { typeUrl: "o" } },
        spec: { typeUrl: "s" },
        snapshotter: "overlayfs",
        snapshotKey: "k",
        createdAt: { seconds: 1n },
        updatedAt: { seconds: 2n },
        extensions: { e: { typeUrl: "t" } },
        sandbox: "sb",
      },
      [
        ...str(1, "c"),
        ...msg(2, str(1, "l"), str(2, "v")),
        ...str(3, "img"),
        ...msg(4, str(1, "io.containerd.tsshim.v2"), msg(2, str(1, "o"))),
        ...msg(5, str(1, "s")),
        ...str(6, "overlayfs"),
        ...str(7, "k"),
        ...msg(8, vi(1, 1)),
        ...msg(9, vi(1, 2)),
        ...msg(10, str(1, "e"), msg(2, str(1, "t"))),
        ...str(11, "sb"),
      ],
    );
  });

  test("Version response", () => {
    expectWire(VersionResponseSchema, { version: "1.6.20", revision: "r" }, [
      ...str(1, "1.6.20"),
      ...str(2, "r"),
    ]);
  });
});

describe("runtime options and bootstrap", () => {
  test("containerd.runc.v1.Options", () => {
    expectWire(
      OptionsSchema,
      {
        noPivotRoot: true,
        shimCgroup: "/s",
        ioUid: 1000,
        binaryName: "crun",
        root: "/r",
        criuPath: "/c",
        systemdCgroup: true,
        taskApiVersion: 3,
      },
      [
        ...vi(1, 1),
        ...str(3, "/s"),
        ...vi(4, 1000),
        ...str(6, "crun"),
        ...str(7, "/r"),
        ...str(8, "/c"),
        ...vi(9, 1),
        ...vi(13, 3),
      ],
    );
  });

  test("BootstrapParams: negative log level, optional socket_dir", () => {
    expectWire(
      BootstrapParamsSchema,
      {
        instanceId: "c",
        namespace: "k8s.io",
        logLevel: LogLevel.DEBUG,
        containerdVersion: "2.3.0",
        containerdTtrpcAddress: "t",
        containerdGrpcAddress: "g",
        containerdBinary: "b",
        extensions: [{ value: { typeUrl: "x" } }],
        socketDir: "",
      },
      [
        ...str(1, "c"),
        ...str(2, "k8s.io"),
        ...vi(3, -4),
        ...str(4, "2.3.0"),
        ...str(5, "t"),
        ...str(6, "g"),
        ...str(7, "b"),
        ...msg(8, msg(1, str(1, "x"))),
        // proto3 optional: an explicitly set empty string is still written
        ...str(9, ""),
      ],
    );
    assert.deepEqual(vi(3, -4).length, 11);
  });

  test("BootstrapResult", () => {
    expectWire(
      BootstrapResultSchema,
      { version: 3, address: "unix:///s", protocol: "ttrpc", metadata: { a: "b" } },
      [...vi(1, 3), ...str(2, "unix:///s"), ...str(3, "ttrpc"), ...msg(5, str(1, "a"), str(2, "b"))],
    );
  });
});

describe("cgroups metrics", () => {
  test("io.containerd.cgroups.v1.Metrics", () => {
    expectWire(
      CgroupsV1MetricsSchema,
      {
        hugetlb: [{ usage: 1n, pagesize: "2MB" }],
        pids: { current: 3n, limit: 4n },
        cpu: { usage: { total: 10n, perCpu: [5n, 300n] }, throttling: { throttledTime: 7n } },
        memory: { cache: 1n, totalUnevictable: 32n, usage: { limit: 9n }, kernelTcp: { failcnt: 2n } },
        blkio: { sectorsRecursive: [{ op: "Read", major: 8n, value: 1n }] },
        cgroupStats: { nrIoWait: 5n },
        memoryOomControl: { oomKill: 1n },
      },
      [
        ...msg(1, vi(1, 1), str(4, "2MB")),
        ...msg(2, vi(1, 3), vi(2, 4)),
        ...msg(3, msg(1, vi(1, 10), packed(4, [5, 300])), msg(2, vi(3, 7))),
        ...msg(4, vi(1, 1), vi(32, 32), msg(33, vi(1, 9)), msg(36, vi(4, 2))),
        ...msg(5, msg(8, str(1, "Read"), vi(3, 8), vi(5, 1))),
        ...msg(8, vi(5, 5)),
        ...msg(9, vi(3, 1)),
      ],
    );
  });

  test("io.containerd.cgroups.v2.Metrics (memory is 4, not 3)", () => {
    expectWire(
      CgroupsV2MetricsSchema,
      {
        pids: { current: 1n },
        cpu: { usageUsec: 2n, psi: { some: { avg10: 0.5 } }, burstUsec: 3n },
        memory: { anon: 1n, usage: 32n, workingsetActivateFile: 42n },
        io: { usage: [{ major: 8n, wios: 6n }] },
        hugetlb: [{ max: 2n, pagesize: "1GB" }],
        memoryEvents: { oomGroupKill: 1n },
        network: [{ name: "eth0", txDropped: 9n }],
      },
      [
        ...msg(1, vi(1, 1)),
        ...msg(2, vi(1, 2), msg(7, msg(1, f64(1, 0.5))), vi(9, 3)),
        ...msg(4, vi(1, 1), vi(32, 32), vi(42, 42)),
        ...msg(6, msg(1, vi(1, 8), vi(6, 6))),
        ...msg(7, vi(2, 2), str(3, "1GB")),
        ...msg(8, vi(6, 1)),
        ...msg(9, str(1, "eth0"), vi(9, 9)),
      ],
    );
  });
});

describe("Kubernetes CRI runtime.v1", () => {
  test("RunPodSandboxRequest with metadata, ports, labels", () => {
    expectWire(
      RunPodSandboxRequestSchema,
      {
        config: {
          metadata: { name: "p", uid: "u", namespace: "default", attempt: 1 },
          hostname: "h",
          logDirectory: "/l",
          portMappings: [{ protocol: Protocol.UDP, containerPort: 53, hostPort: 5353, hostIp: "127.0.0.1" }],
          labels: { a: "b" },
        },
        runtimeHandler: "tsshim",
      },
      [
        ...msg(
          1,
          msg(1, str(1, "p"), str(2, "u"), str(3, "default"), vi(4, 1)),
          str(2, "h"),
          str(3, "/l"),
          msg(5, vi(1, 1), vi(2, 53), vi(3, 5353), str(4, "127.0.0.1")),
          msg(6, str(1, "a"), str(2, "b")),
        ),
        ...str(2, "tsshim"),
      ],
    );
  });

  test("LinuxContainerResources: int64 fields, unified map 9, swap 10", () => {
    expectWire(
      LinuxContainerResourcesSchema,
      {
        cpuPeriod: 100000n,
        cpuQuota: -1n,
        cpuShares: 2n,
        memoryLimitInBytes: 1n << 30n,
        oomScoreAdj: -998n,
        cpusetCpus: "0-1",
        hugepageLimits: [{ pageSize: "2MB", limit: 4n }],
        unified: { "memory.high": "max" },
        memorySwapLimitInBytes: 7n,
      },
      [
        ...vi(1, 100000),
        ...vi(2, -1),
        ...vi(3, 2),
        ...vi(4, 1 << 30),
        ...vi(5, -998),
        ...str(6, "0-1"),
        ...msg(8, str(1, "2MB"), vi(2, 4)),
        ...msg(9, str(1, "memory.high"), str(2, "max")),
        ...vi(10, 7),
      ],
    );
  });

  test("PullImageRequest: ImageSpec user_specified_image is 18, auth is 2", () => {
    expectWire(
      PullImageRequestSchema,
      {
        image: { image: "busybox", userSpecifiedImage: "docker.io/busybox" },
        auth: { username: "u", registryToken: "t" },
      },
      [...msg(1, str(1, "busybox"), str(18, "docker.io/busybox")), ...msg(2, str(1, "u"), str(6, "t"))],
    );
  });

  test("ExecSyncResponse and VersionResponse", () => {
    expectWire(ExecSyncResponseSchema, { stdout: new Uint8Array([104, 105]), exitCode: 3 }, [
      ...ld(1, [104, 105]),
      ...vi(3, 3),
    ]);
    expectWire(
      CriVersionResponseSchema,
      { version: "0.1.0", runtimeName: "containerd", runtimeVersion: "v1.6.20", runtimeApiVersion: "v1" },
      [...str(1, "0.1.0"), ...str(2, "containerd"), ...str(3, "v1.6.20"), ...str(4, "v1")],
    );
  });
});
