// Published Connect and State answers (src/shim/task-answers.ts) against the handlers'
// own. For a tsshim task driven through containerd into every state a user can reach —
// running, paused, resumed, an exec created, running and exited, the init stopped and
// deleted — the shim's answer to containerd's exact request bytes (what the native wire
// answers when published) must equal the JS handler's answer to the same question asked
// so that the wire passes it on (an envelope field it does not know), under both the v2
// and v3 service names.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { StateResponseSchema } from "../../src/api/gen/containerd/task/v2/shim_pb.js";
import { Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import { packJsonAny, specTypeUrls } from "../../src/api/typeurl.js";
import { TASK_SERVICE_NAMES } from "../../src/shim/task-answers.js";
import { encodeConnectRequest, encodeStateRequest } from "../../src/shim/task-codecs.js";
import { closeFileContainerd, type FileContainerd, openFileContainerd } from "../helpers/file-containerd.js";
import { assertNoLeaks } from "../helpers/leaks.js";
import { RawConn, requestFrame } from "../unit/ttrpc-echo.js";

let f: FileContainerd;

before(async () => {
  f = await openFileContainerd();
});

after(() => closeFileContainerd(f?.api, f?.cd));

/** Asks the shim of `id` directly, as containerd does, or so that JS must answer. */
class ShimProbe {
  private sid = 1;
  private constructor(
    private readonly conn: RawConn,
    private readonly namespace: string,
  ) {}

  static async open(id: string): Promise<ShimProbe> {
    const bundle = join(f.cd.state, "io.containerd.runtime.v2.task", f.cd.namespace, id);
    const address = readFileSync(join(bundle, "address"), "utf8")
      .trim()
      .replace(/^unix:\/\//, "");
    return new ShimProbe(await RawConn.connect(address), f.cd.namespace);
  }

  async ask(service: string, method: string, payload: Uint8Array, viaJs: boolean): Promise<string> {
    const streamId = this.sid;
    this.sid += 2;
    const request = {
      service,
      method,
      payload,
      timeoutNano: 5_000_000_000n,
      metadata: [{ key: "containerd-namespace-ttrpc", value: this.namespace }],
    };
    // An envelope field the wire does not know: it leaves such a frame to JS, which skips it.
    this.conn.write(requestFrame(streamId, request, 0, { unknownField: viaJs }));
    const s = await this.conn.nextStatus();
    assert.equal(s.streamId, streamId);
    return s.code === 0 ? `ok ${Buffer.from(s.payload).toString("hex")}` : `status ${s.code}: ${s.message}`;
  }

  /** The same answer both ways, under both names; returns it. */
  async same(method: string, payload: Uint8Array, what: string): Promise<string> {
    const answers = new Set<string>();
    for (const service of TASK_SERVICE_NAMES) {
      for (const viaJs of [false, true]) answers.add(await this.ask(service, method, payload, viaJs));
    }
    assert.equal(answers.size, 1, `${what}: ${[...answers].join(" | ")}`);
    return [...answers][0]!;
  }

  async state(id: string, execId: string, what: string): Promise<Status | string> {
    const a = await this.same("State", encodeStateRequest(id, execId), what);
    await this.same("Connect", encodeConnectRequest(id), `${what} (Connect)`);
    return statusOf(a);
  }

  /**
   * Until JS reports `want` (the exit is recorded): asked both ways while the process
   * dies, the two answers may rightly differ.
   */
  async settle(id: string, execId: string, want: Status): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const a = await this.ask(TASK_SERVICE_NAMES[0]!, "State", encodeStateRequest(id, execId), true);
      if (statusOf(a) === want) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail(`${id}/${execId} never reached status ${want}`);
  }

  close(): void {
    this.conn.close();
  }
}

function statusOf(answer: string): Status | string {
  if (!answer.startsWith("ok ")) return answer;
  return fromBinary(StateResponseSchema, Buffer.from(answer.slice(3), "hex")).status;
}

async function ctrOk(args: string[]): Promise<void> {
  const r = await f.cd.ctr(args);
  assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
}

test("published answers equal the handlers' through a task's whole life", async () => {
  const id = "answers-1";
  await ctrOk(["run", "-d", ...f.cd.runtimeFlags("tsshim"), f.image, id, "sleep", "600"]);
  const probe = await ShimProbe.open(id);
  try {
    assert.equal(await probe.state(id, "", "running"), Status.RUNNING);
    await ctrOk(["task", "pause", id]);
    assert.equal(await probe.state(id, "", "paused"), Status.PAUSED);
    await ctrOk(["task", "resume", id]);
    assert.equal(await probe.state(id, "", "resumed"), Status.RUNNING);

    // An exec: created by the API (not started yet), started, then ended.
    const spec = { args: ["sleep", "600"], cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 } };
    await f.api.tasks.exec(
      { containerId: id, execId: "e1", spec: packJsonAny(specTypeUrls.process, spec) },
      { timeoutMs: 5000 },
    );
    assert.equal(await probe.state(id, "e1", "exec created"), Status.CREATED);
    await f.api.tasks.start({ containerId: id, execId: "e1" }, { timeoutMs: 5000 });
    assert.equal(await probe.state(id, "e1", "exec running"), Status.RUNNING);
    await f.api.tasks.kill({ containerId: id, execId: "e1", signal: 9 }, { timeoutMs: 5000 });
    await probe.settle(id, "e1", Status.STOPPED);
    assert.equal(await probe.state(id, "e1", "exec exited"), Status.STOPPED);
    await f.api.tasks.deleteProcess({ containerId: id, execId: "e1" }, { timeoutMs: 5000 });
    assert.match(String(await probe.state(id, "e1", "exec deleted")), /^status 5: /, "NotFound");
    assert.equal(await probe.state(id, "", "init after the exec"), Status.RUNNING);

    await ctrOk(["task", "kill", "-s", "SIGKILL", id]);
    await probe.settle(id, "", Status.STOPPED);
    assert.equal(await probe.state(id, "", "init exited"), Status.STOPPED);
    await ctrOk(["task", "rm", id]);
    await ctrOk(["container", "rm", id]);
  } finally {
    probe.close();
  }
});

test("nothing is left behind", async () => {
  await assertNoLeaks(f.snapshot);
});
