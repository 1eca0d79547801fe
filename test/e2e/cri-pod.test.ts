// Kubernetes through containerd's CRI plugin, driven as kubelet drives it,
// once with the `tsshim` runtime handler and once with `runc`: the same
// scenario and the same assertions for both (what differs is asserted and
// named where it differs).
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type ContainerConfigSchema,
  ContainerState,
  type ContainerStatus,
  type LinuxContainerResourcesSchema,
  NamespaceMode,
  type PodSandboxConfigSchema,
  PodSandboxState,
} from "../../src/api/gen/runtime/v1/api_pb.js";
import type { Containerd, RuntimeName } from "../helpers/containerd.js";
import {
  CRI_NAMESPACE,
  type CriClient,
  criClient,
  criLogLines,
  makePodCgroup,
  readCriLog,
  removePodCgroup,
  shimPids,
  startCriContainerd,
  streamRequest,
} from "../helpers/cri.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { PAUSE_IMAGE } from "../helpers/pause-image.js";
import { sleep } from "../helpers/proc.js";

const T = { timeoutMs: 60_000 };
const HANDLERS: { handler: RuntimeName; shimProgram: string }[] = [
  { handler: "tsshim", shimProgram: "containerd-shim-tsshim-v2" },
  { handler: "runc", shimProgram: "containerd-shim-runc-v2" },
];

let cd: Containerd;
let cri: CriClient;
let image: string;
let logRoot: string;
let leakBase: LeakSnapshot;
let pods = 0;
/** Pods not yet torn down by their test: removed by afterEach, whatever failed. */
const livePods = new Map<string, Pod>();

before(async () => {
  cd = await startCriContainerd();
  image = await importBusyboxImage(cd, undefined, CRI_NAMESPACE);
  cri = criClient(cd.address);
  logRoot = join(cd.dir, "pod-logs");
  mkdirSync(logRoot);
  // The CRI plugin answers once its own start-up is done.
  await cri.runtime.version({}, T);
  leakBase = takeLeakSnapshot(cd);
});

afterEach(async () => {
  // Best effort, after a failure: what kubelet would do to remove the pod.
  for (const pod of livePods.values()) {
    if (pod.id !== "") {
      await cri.runtime.stopPodSandbox({ podSandboxId: pod.id }, T).catch(() => {});
      await cri.runtime.removePodSandbox({ podSandboxId: pod.id }, T).catch(() => {});
    }
    rmSync(pod.logDir, { recursive: true, force: true });
    try {
      removePodCgroup(pod.cgroupParent);
    } catch {
      // reported by the failed test's leak check, and by stop()
    }
  }
  livePods.clear();
});

after(async () => {
  cri?.close();
  await cd?.stop();
});

type PodConfig = MessageInitShape<typeof PodSandboxConfigSchema>;
type CtrConfig = MessageInitShape<typeof ContainerConfigSchema>;

interface Pod {
  id: string;
  config: PodConfig;
  logDir: string;
  cgroupParent: string;
}

async function runPod(
  handler: RuntimeName,
  opts: { hostNetwork: boolean; sharePid?: boolean },
): Promise<Pod> {
  const n = ++pods;
  const uid = `uid-${process.pid}-${n}`;
  const logDir = join(logRoot, uid);
  // Under <hierarchy>/k8s.io/, where the harness's leak checker and stop() look.
  const cgroupParent = `/${CRI_NAMESPACE}/pod-${uid}`;
  const config: PodConfig = {
    metadata: { name: `pod-${n}`, uid, namespace: "default", attempt: 0 },
    // kubelet gives host-network pods no hostname of their own (no UTS namespace).
    hostname: opts.hostNetwork ? "" : `pod-${n}`,
    logDirectory: logDir,
    linux: {
      cgroupParent,
      securityContext: {
        // As kubelet sets them for a pod without shareProcessNamespace.
        namespaceOptions: {
          network: opts.hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
          // POD: shareProcessNamespace, pause is PID 1 of every container.
          pid: opts.sharePid ? NamespaceMode.POD : NamespaceMode.CONTAINER,
          ipc: NamespaceMode.POD,
        },
      },
    },
  };
  makePodCgroup(cgroupParent);
  // Registered before the call, so a failed RunPodSandbox still loses its cgroup.
  livePods.set(uid, { id: "", config, logDir, cgroupParent });
  const r = await cri.runtime.runPodSandbox({ config, runtimeHandler: handler }, T);
  const pod = { id: r.podSandboxId, config, logDir, cgroupParent };
  livePods.set(uid, pod);
  return pod;
}

async function createContainer(
  pod: Pod,
  name: string,
  command: string[],
  extra: { attempt?: number; resources?: MessageInitShape<typeof LinuxContainerResourcesSchema> } = {},
): Promise<string> {
  const attempt = extra.attempt ?? 0;
  const config: CtrConfig = {
    metadata: { name, attempt },
    image: { image },
    command,
    logPath: `${name}_${attempt}.log`,
    linux: {
      // kubelet repeats the pod's namespace modes for every container.
      securityContext: { namespaceOptions: pod.config.linux?.securityContext?.namespaceOptions ?? {} },
      ...(extra.resources ? { resources: extra.resources } : {}),
    },
  };
  const r = await cri.runtime.createContainer({ podSandboxId: pod.id, config, sandboxConfig: pod.config }, T);
  return r.containerId;
}

async function status(id: string): Promise<ContainerStatus> {
  const r = await cri.runtime.containerStatus({ containerId: id }, T);
  assert.ok(r.status, `no status for ${id}`);
  return r.status;
}

async function waitExited(id: string, timeoutMs = 20_000): Promise<ContainerStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(id);
    if (s.state === ContainerState.CONTAINER_EXITED) return s;
    if (Date.now() > deadline)
      throw new Error(`${id} still ${ContainerState[s.state]} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function waitFor<V>(what: string, fn: () => V | undefined, timeoutMs = 15_000): Promise<V> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Lines of one stream of a container's CRI log. */
function logLines(pod: Pod, file: string, stream: "stdout" | "stderr"): string[] {
  try {
    return criLogLines(readCriLog(join(pod.logDir, file)), stream);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

async function teardownPod(pod: Pod): Promise<void> {
  livePods.delete(pod.config.metadata?.uid ?? "");
  await cri.runtime.stopPodSandbox({ podSandboxId: pod.id }, T);
  const st = await cri.runtime.podSandboxStatus({ podSandboxId: pod.id }, T);
  assert.equal(st.status?.state, PodSandboxState.SANDBOX_NOTREADY);
  await cri.runtime.removePodSandbox({ podSandboxId: pod.id }, T);
  const left = await cri.runtime.listPodSandbox({ filter: { id: pod.id } }, T);
  assert.equal(left.items.length, 0);
  rmSync(pod.logDir, { recursive: true, force: true });
  // As kubelet does; fails if a container's cgroup is left inside.
  removePodCgroup(pod.cgroupParent);
}

/** Prints the lines a pod's app container writes to stdout: a file dropped in /tmp/say by exec. */
const SAY_LOOP = "while true; do if [ -f /tmp/say ]; then cat /tmp/say; rm /tmp/say; fi; sleep 0.05; done";

test("Version, Status (runtime and network ready) and ImageStatus of the pause and busybox images", async () => {
  const v = await cri.runtime.version({ version: "v1" }, T);
  assert.equal(v.runtimeName, "containerd");
  assert.equal(v.runtimeApiVersion, "v1");
  // What kubelet checks before it runs pods: runtime and network ready, images present.
  const st = await cri.runtime.status({}, T);
  for (const type of ["RuntimeReady", "NetworkReady"]) {
    assert.equal(st.status?.conditions.find((c) => c.type === type)?.status, true, type);
  }
  for (const name of [image, PAUSE_IMAGE]) {
    const is = await cri.images.imageStatus({ image: { image: name } }, T);
    assert.ok(is.image?.repoTags.includes(name), `${name} present`);
  }
});

for (const { handler, shimProgram } of HANDLERS) {
  describe(`CRI with runtime handler ${handler}`, () => {
    test("a host-network pod with two containers, kubelet's whole life cycle", async () => {
      const pod = await runPod(handler, { hostNetwork: true });
      const ps = await cri.runtime.podSandboxStatus({ podSandboxId: pod.id, verbose: true }, T);
      assert.equal(ps.status?.state, PodSandboxState.SANDBOX_READY);
      assert.equal(ps.status?.linux?.namespaces?.options?.network, NamespaceMode.NODE);
      assert.equal(ps.status?.runtimeHandler, handler);

      // app: 1,000 numbered lines, then echoes /tmp/say; exits 0 on SIGTERM.
      const app = await createContainer(pod, "app", [
        "sh",
        "-c",
        `trap 'echo got-term; exit 0' TERM; echo err-1 >&2; i=0; while [ $i -lt 1000 ]; do echo line-$i; i=$((i+1)); done; ${SAY_LOOP}`,
      ]);
      // stubborn: ignores SIGTERM.
      const stubborn = await createContainer(pod, "stubborn", [
        "sh",
        "-c",
        "trap '' TERM; echo ready; while true; do sleep 0.1; done",
      ]);
      assert.equal((await status(app)).state, ContainerState.CONTAINER_CREATED);
      await cri.runtime.startContainer({ containerId: app }, T);
      await cri.runtime.startContainer({ containerId: stubborn }, T);
      for (const id of [app, stubborn]) {
        const s = await status(id);
        assert.equal(s.state, ContainerState.CONTAINER_RUNNING, `${id} running`);
        assert.ok(s.startedAt > 0n);
      }
      const list = await cri.runtime.listContainers({ filter: { podSandboxId: pod.id } }, T);
      assert.equal(list.containers.length, 2);

      // Logs: every line, in order, in the CRI format.
      const want = Array.from({ length: 1000 }, (_, i) => `line-${i}`);
      await waitFor("app's 1,000 lines", () =>
        logLines(pod, "app_0.log", "stdout").length >= 1000 ? true : undefined,
      );
      assert.deepEqual(logLines(pod, "app_0.log", "stdout"), want);
      assert.deepEqual(logLines(pod, "app_0.log", "stderr"), ["err-1"]);
      for (const e of readCriLog(join(pod.logDir, "app_0.log"))) {
        assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)$/);
      }
      await waitFor("stubborn's ready", () =>
        logLines(pod, "stubborn_0.log", "stdout").includes("ready") ? true : undefined,
      );

      // ExecSync in each container: stdout, stderr, exit code.
      for (const id of [app, stubborn]) {
        const r = await cri.runtime.execSync(
          { containerId: id, cmd: ["sh", "-c", "echo so; echo se >&2; exit 3"], timeout: 10n },
          T,
        );
        assert.equal(Buffer.from(r.stdout).toString(), "so\n");
        assert.equal(Buffer.from(r.stderr).toString(), "se\n");
        assert.equal(r.exitCode, 3);
      }
      // Exec and Attach through the streaming server (WebSocket, v4.channel.k8s.io).
      const ex = await cri.runtime.exec(
        {
          containerId: app,
          cmd: ["sh", "-c", "read x; echo out-$x; echo err-$x >&2; exit 3"],
          stdin: true,
          stdout: true,
          stderr: true,
        },
        T,
      );
      assert.match(ex.url, /^http:\/\/127\.0\.0\.1:\d+\/exec\//);
      const streamed = await streamRequest(ex.url, { stdin: "hello\n" });
      assert.deepEqual(
        { stdout: streamed.stdout, stderr: streamed.stderr, exitCode: streamed.exitCode },
        { stdout: "out-hello\n", stderr: "err-hello\n", exitCode: 3 },
      );
      const at = await cri.runtime.attach({ containerId: app, stdout: true, stderr: true }, T);
      assert.match(at.url, /^http:\/\/127\.0\.0\.1:\d+\/attach\//);
      const attached = streamRequest(at.url, { untilStdout: /attached-hello\n/ });
      // The attach is live once the server has upgraded; say something then.
      await sleep(300);
      await cri.runtime.execSync(
        { containerId: app, cmd: ["sh", "-c", "echo attached-hello > /tmp/s && mv /tmp/s /tmp/say"] },
        T,
      );
      assert.match((await attached).stdout, /attached-hello\n/);

      // A timeout ends the call after the timeout, not after the command.
      const t0 = Date.now();
      await assert.rejects(
        cri.runtime.execSync({ containerId: app, cmd: ["sleep", "30"], timeout: 1n }, T),
        /timeout 1s exceeded/,
      );
      assert.ok(Date.now() - t0 < 10_000, `ExecSync with timeout 1 took ${Date.now() - t0} ms`);

      await checkPlacement(pod, [app, stubborn]);
      await checkStats(pod, [app, stubborn]);

      // UpdateContainerResources, seen from inside the container.
      await cri.runtime.updateContainerResources(
        { containerId: app, linux: { memoryLimitInBytes: 64n << 20n, cpuShares: 512n } },
        T,
      );
      const mem = await cri.runtime.execSync(
        {
          containerId: app,
          cmd: ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.shares"],
        },
        T,
      );
      assert.equal(Buffer.from(mem.stdout).toString(), `${64 << 20}\n512\n`);

      // ReopenContainerLog: after a rotation by rename, new output goes to a new file.
      const logFile = join(pod.logDir, "app_0.log");
      renameSync(logFile, `${logFile}.1`);
      await cri.runtime.reopenContainerLog({ containerId: app }, T);
      await cri.runtime.execSync(
        { containerId: app, cmd: ["sh", "-c", "echo after-reopen > /tmp/s && mv /tmp/s /tmp/say"] },
        T,
      );
      await waitFor("after-reopen in the new log", () =>
        logLines(pod, "app_0.log", "stdout").includes("after-reopen") ? true : undefined,
      );
      // Everything before the rotation (attached-hello went to the log too) stayed in the old file.
      assert.deepEqual(logLines(pod, "app_0.log.1", "stdout"), [...want, "attached-hello"]);

      // StopContainer: a trapped SIGTERM ends cleanly well within the grace period.
      let t = Date.now();
      await cri.runtime.stopContainer({ containerId: app, timeout: 10n }, T);
      assert.ok(Date.now() - t < 8_000, `stop of a SIGTERM-handling container took ${Date.now() - t} ms`);
      let s = await status(app);
      assert.equal(s.state, ContainerState.CONTAINER_EXITED);
      assert.equal(s.exitCode, 0);
      assert.equal(s.reason, "Completed");
      assert.ok(s.finishedAt >= s.startedAt);
      assert.equal(logLines(pod, "app_0.log", "stdout").at(-1), "got-term");

      // One that ignores SIGTERM is killed after the grace period.
      t = Date.now();
      await cri.runtime.stopContainer({ containerId: stubborn, timeout: 2n }, T);
      const took = Date.now() - t;
      assert.ok(took >= 1_900 && took < 8_000, `stop with grace 2s took ${took} ms`);
      s = await status(stubborn);
      assert.equal(s.state, ContainerState.CONTAINER_EXITED);
      assert.equal(s.exitCode, 137);
      assert.equal(s.reason, "Error");

      // The sandbox outlives its containers.
      assert.equal(
        (await cri.runtime.podSandboxStatus({ podSandboxId: pod.id }, T)).status?.state,
        PodSandboxState.SANDBOX_READY,
      );
      for (const id of [app, stubborn]) await cri.runtime.removeContainer({ containerId: id }, T);
      assert.equal(
        (await cri.runtime.listContainers({ filter: { podSandboxId: pod.id } }, T)).containers.length,
        0,
      );
      await teardownPod(pod);
      await assertNoLeaks(leakBase);
    });

    test("a crash-looping container restarted three times, then an OOM kill", async () => {
      const pod = await runPod(handler, { hostNetwork: true });
      for (let attempt = 1; attempt <= 3; attempt++) {
        const id = await createContainer(
          pod,
          "crasher",
          ["sh", "-c", `echo attempt-${attempt}; exit ${40 + attempt}`],
          { attempt },
        );
        await cri.runtime.startContainer({ containerId: id }, T);
        const s = await waitExited(id);
        assert.equal(s.exitCode, 40 + attempt, `attempt ${attempt}`);
        assert.equal(s.reason, "Error");
        assert.equal(s.metadata?.attempt, attempt);
        await waitFor(`attempt-${attempt} logged`, () =>
          logLines(pod, `crasher_${attempt}.log`, "stdout").length > 0 ? true : undefined,
        );
        assert.deepEqual(logLines(pod, `crasher_${attempt}.log`, "stdout"), [`attempt-${attempt}`]);
        await cri.runtime.removeContainer({ containerId: id }, T);
      }

      // OOM: 32 MiB limit, and busybox tail buffering an endless line.
      const hog = await createContainer(pod, "hog", ["tail", "/dev/zero"], {
        resources: { memoryLimitInBytes: 32n << 20n },
      });
      await cri.runtime.startContainer({ containerId: hog }, T);
      const s = await waitExited(hog, 30_000);
      assert.equal(s.exitCode, 137);
      // containerd sets OOMKilled from the shim's /tasks/oom event only.
      assert.equal(s.reason, "OOMKilled");
      await cri.runtime.removeContainer({ containerId: hog }, T);
      await teardownPod(pod);
      await assertNoLeaks(leakBase);
    });

    test("a pod on the pod network (CNI loopback + ptp)", async () => {
      const linksBefore = readdirSync("/sys/class/net").sort();
      const pod = await runPod(handler, { hostNetwork: false });
      // ptp's host end of the pod's veth pair.
      assert.equal(readdirSync("/sys/class/net").length, linksBefore.length + 1);
      const ps = await cri.runtime.podSandboxStatus({ podSandboxId: pod.id }, T);
      assert.equal(ps.status?.state, PodSandboxState.SANDBOX_READY);
      const ip = ps.status?.network?.ip ?? "";
      assert.match(ip, /^10\.88\.77\.\d+$/);
      const id = await createContainer(pod, "net", ["sh", "-c", "while true; do sleep 0.1; done"]);
      await cri.runtime.startContainer({ containerId: id }, T);
      const r = await cri.runtime.execSync({ containerId: id, cmd: ["ip", "-o", "addr"] }, T);
      const out = Buffer.from(r.stdout).toString();
      assert.match(out, /\blo\s+inet 127\.0\.0\.1\/8/);
      assert.match(out, new RegExp(`\\beth0\\s+inet ${ip.replace(/\./g, "\\.")}/24`));
      assert.equal(r.exitCode, 0);
      await cri.runtime.stopContainer({ containerId: id, timeout: 1n }, T);
      await cri.runtime.removeContainer({ containerId: id }, T);
      await teardownPod(pod);
      // CNI DEL ran: the host veth and the address reservation are gone.
      assert.deepEqual(readdirSync("/sys/class/net").sort(), linksBefore);
      const reserved = readdirSync(join(cd.dir, "cni", "ipam", "tsshim-test")).filter((f) => /^\d/.test(f));
      assert.deepEqual(reserved, []);
      await assertNoLeaks(leakBase);
    });

    test("a pod sharing its PID namespace: pause is PID 1 and reaps the orphans of an exec", async () => {
      const pod = await runPod(handler, { hostNetwork: true, sharePid: true });
      const id = await createContainer(pod, "shell", ["sh", "-c", "while true; do sleep 0.1; done"]);
      await cri.runtime.startContainer({ containerId: id }, T);
      const r = await cri.runtime.execSync({ containerId: id, cmd: ["cat", "/proc/1/cmdline"] }, T);
      assert.equal(Buffer.from(r.stdout).toString(), "/pause\0");
      const pause = verbosePid(
        (await cri.runtime.podSandboxStatus({ podSandboxId: pod.id, verbose: true }, T)).info,
      );
      const children = (): string[] => {
        const text = readFileSync(`/proc/${pause}/task/${pause}/children`, "utf8").trim();
        return text === "" ? [] : text.split(" ");
      };
      // The exec's shell exits at once (its sleeps do not hold its output open, or
      // ExecSync would wait for them); the two sleeps are reparented to PID 1.
      await cri.runtime.execSync(
        { containerId: id, cmd: ["sh", "-c", "exec >/dev/null 2>&1; sleep 1 & sleep 1 & exit 0"] },
        T,
      );
      assert.equal(children().length, 2, "orphans reparented to pause");
      await waitFor("pause to reap its orphans", () => (children().length === 0 ? true : undefined));
      await cri.runtime.stopContainer({ containerId: id, timeout: 1n }, T);
      await cri.runtime.removeContainer({ containerId: id }, T);
      await teardownPod(pod);
      await assertNoLeaks(leakBase);
    });

    test("one shim process for a pod of 5 containers; it exits after the pod is removed", async (t) => {
      const before = shimPids(cd, shimProgram);
      const pod = await runPod(handler, { hostNetwork: true });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = await createContainer(pod, `c${i}`, [
          "sh",
          "-c",
          "trap 'exit 0' TERM; while true; do sleep 0.1; done",
        ]);
        await cri.runtime.startContainer({ containerId: id }, T);
        ids.push(id);
      }
      const shims = shimPids(cd, shimProgram).filter((p) => !before.includes(p));
      assert.equal(shims.length, 1, `shims of the pod: ${shims.join(", ")}`);
      // Its memory, for comparison between handlers (the benchmark suite measures it properly).
      const pss = pssKiB(shims[0]!);
      assert.ok(pss > 0);
      t.diagnostic(`${handler}: one shim for a pod of 6 containers (sandbox + 5), PSS ${pss} KiB`);
      for (const id of ids) {
        await cri.runtime.stopContainer({ containerId: id, timeout: 5n }, T);
        await cri.runtime.removeContainer({ containerId: id }, T);
      }
      // The sandbox alone keeps its shim.
      assert.deepEqual(
        shimPids(cd, shimProgram).filter((p) => !before.includes(p)),
        shims,
      );
      await teardownPod(pod);
      await waitFor("the pod's shim to exit", () =>
        shimPids(cd, shimProgram).some((p) => shims.includes(p)) ? undefined : true,
      );
      await assertNoLeaks(leakBase);
    });
  });
}

/** Proportional set size of a process, from /proc/<pid>/smaps_rollup. */
function pssKiB(pid: number): number {
  const m = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  assert.ok(m, `no Pss in /proc/${pid}/smaps_rollup`);
  return Number(m[1]);
}

/** The host pid CRI reports in verbose status info (`info.pid`). */
function verbosePid(info: { [k: string]: string }): number {
  const parsed: unknown = JSON.parse(info["info"] ?? "{}");
  const pid = typeof parsed === "object" && parsed !== null && "pid" in parsed ? parsed.pid : undefined;
  assert.ok(typeof pid === "number" && pid > 0, `no pid in verbose info: ${info["info"]}`);
  return pid;
}

const nsOf = (pid: number, ns: string): string => readlinkSync(`/proc/${pid}/ns/${ns}`);

/**
 * Seen from the host: each container shares the sandbox's network, IPC and
 * UTS namespaces, has its own PID and mount namespaces, and sits in the
 * cgroup <pod cgroup parent>/<container id> of every v1 controller.
 */
async function checkPlacement(pod: Pod, ids: string[]): Promise<void> {
  const sandbox = verbosePid(
    (await cri.runtime.podSandboxStatus({ podSandboxId: pod.id, verbose: true }, T)).info,
  );
  for (const id of ids) {
    const pid = verbosePid((await cri.runtime.containerStatus({ containerId: id, verbose: true }, T)).info);
    for (const ns of ["net", "ipc", "uts"])
      assert.equal(nsOf(pid, ns), nsOf(sandbox, ns), `${ns} ns of ${id}`);
    for (const ns of ["pid", "mnt"]) assert.notEqual(nsOf(pid, ns), nsOf(sandbox, ns), `${ns} ns of ${id}`);
    const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
    for (const ctrl of ["memory", "cpu", "pids", "freezer", "devices"]) {
      const line = lines.find((l) => l.split(":")[1]?.split(",").includes(ctrl));
      assert.equal(line?.split(":")[2], `${pod.cgroupParent}/${id}`, `${ctrl} cgroup of ${id}`);
    }
  }
}

async function checkStats(pod: Pod, ids: string[]): Promise<void> {
  const one = await cri.runtime.containerStats({ containerId: ids[0]! }, T);
  assert.equal(one.stats?.attributes?.id, ids[0]);
  assert.ok((one.stats?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, "cpu usage > 0");
  assert.ok((one.stats?.memory?.workingSetBytes?.value ?? 0n) > 0n, "memory working set > 0");
  const all = await cri.runtime.listContainerStats({ filter: { podSandboxId: pod.id } }, T);
  assert.deepEqual(all.stats.map((s) => s.attributes?.id).sort(), [...ids].sort());
  for (const s of all.stats) {
    assert.ok((s.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, `cpu of ${s.attributes?.id}`);
    assert.ok((s.memory?.workingSetBytes?.value ?? 0n) > 0n, `memory of ${s.attributes?.id}`);
  }
}
