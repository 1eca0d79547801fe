// `ctr run` with tsshim as a user sees it: exact output bytes, exit codes and
// signal deaths reported by `ctr run`, by `ctr task ls` and by Wait, and the
// same numbers runc gives for the same workload.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import type { Containerd } from "../helpers/containerd.js";
import { closeFileContainerd, openFileContainerd } from "../helpers/file-containerd.js";
import type { ContainerdClient } from "../helpers/grpc.js";
import { assertNoLeaks, type LeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let api: ContainerdClient;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  ({ cd, api, image, snapshot } = await openFileContainerd());
});

after(() => closeFileContainerd(api, cd));

const tsshim = (): string[] => cd.runtimeFlags("tsshim");

interface ByteResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** ctr with stdout kept as bytes (ctr() decodes UTF-8, which would hide a wrong byte). */
function ctrBytes(args: readonly string[], timeoutMs = 30_000): Promise<ByteResult> {
  const child = cd.spawnCtr(args);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on("data", (b: Buffer) => out.push(b));
  child.stderr?.on("data", (b: Buffer) => err.push(b));
  child.stdin?.end();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ctr ${args.join(" ")} timed out`));
    }, timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), code: code ?? -1 });
    });
  });
}

async function removeTask(id: string): Promise<void> {
  await cd.ctr(["task", "kill", "-a", "-s", "SIGKILL", id]).catch(() => undefined);
  await api.tasks.wait({ containerId: id }, { timeoutMs: 10_000 }).catch(() => undefined);
  await cd.ctr(["task", "rm", "-f", id]);
  const rm = await cd.ctr(["container", "rm", id]);
  assert.equal(rm.code, 0, `container rm ${id}: ${rm.stderr}`);
}

test("ctr run --rm prints the exact bytes on stdout and stderr and exits 0", async () => {
  // every byte value once on stdout, in order; a line on stderr
  const script =
    'i=0; while [ $i -lt 256 ]; do printf "\\\\$(printf %o $i)"; i=$((i+1)); done; echo to-err >&2';
  const r = await ctrBytes(["run", "--rm", ...tsshim(), image, "bytes", "sh", "-c", script]);
  assert.equal(r.code, 0, r.stderr);
  const want = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.equal(r.stdout.length, 256);
  assert.ok(r.stdout.equals(want), `stdout differs: ${r.stdout.toString("hex")}`);
  assert.equal(r.stderr, "to-err\n");

  const hi = await cd.ctr(["run", "--rm", ...tsshim(), image, "hi", "echo", "hi"]);
  assert.deepEqual([hi.code, hi.stdout, hi.stderr], [0, "hi\n", ""]);
});

test("exit codes 0, 1, 7, 255 come back from ctr run and from Wait / task ls of a detached task", async () => {
  for (const code of [0, 1, 7, 255]) {
    const r = await cd.ctr(["run", "--rm", ...tsshim(), image, `exit${code}`, "sh", "-c", `exit ${code}`]);
    assert.equal(r.code, code, `ctr run of exit ${code}: ${r.stderr}`);
    assert.equal(r.stdout, "");

    const id = `exitd${code}`;
    const d = await cd.ctr(["run", "-d", ...tsshim(), image, id, "sh", "-c", `sleep 0.2; exit ${code}`]);
    assert.equal(d.code, 0, d.stderr);
    const waited = await api.tasks.wait({ containerId: id }, { timeoutMs: 10_000 });
    assert.equal(waited.exitStatus, code);
    assert.ok((waited.exitedAt?.seconds ?? 0n) > 0n, "exited_at is set");
    const ls = await cd.ctr(["task", "ls"]);
    assert.match(ls.stdout, new RegExp(`^${id}\\s+\\d+\\s+STOPPED$`, "m"));
    const got = await api.tasks.get({ containerId: id }, { timeoutMs: 5000 });
    assert.equal(got.process?.status, Status.STOPPED);
    assert.equal(got.process?.exitStatus, code);
    const rm = await cd.ctr(["task", "rm", id]);
    assert.equal(rm.code, 0, rm.stderr);
    // ctr warns about a non-zero status, with the number
    if (code === 0) assert.equal(rm.stderr, "");
    else assert.match(rm.stderr, new RegExp(`task ${id} exit with non-zero exit code ${code}`));
    assert.equal((await cd.ctr(["container", "rm", id])).code, 0);
  }
});

test("signal deaths: 128+signal, as runc reports them", async () => {
  // A PID-namespace init ignores signals it sends itself (the kernel drops
  // default-action signals to a namespace init from inside): sh survives and
  // exits 0. In the host's PID namespace (ctr run --with-ns pid:…) the init
  // is an ordinary process and dies of its own signal. runc runs beside us
  // as the reference for every case.
  const hostPidNs = ["--with-ns", `pid:/proc/${process.pid}/ns/pid`];
  const cases: { script: string; flags: string[]; want: number }[] = [
    { script: "kill -9 $$", flags: [], want: 0 },
    { script: "kill -TERM $$", flags: [], want: 0 },
    { script: "kill -9 $$", flags: hostPidNs, want: 137 },
    { script: "kill -TERM $$", flags: hostPidNs, want: 143 },
  ];
  for (const [i, c] of cases.entries()) {
    for (const rt of ["tsshim", "runc"] as const) {
      const args = [
        "run",
        "--rm",
        ...c.flags,
        ...cd.runtimeFlags(rt),
        image,
        `self-${rt}-${i}`,
        "sh",
        "-c",
        c.script,
      ];
      const r = await cd.ctr(args);
      assert.equal(r.code, c.want, `${rt}: ${c.script} ${c.flags.join(" ")}: ${r.stderr}`);
    }
  }

  // A SIGKILL from outside (ctr task kill) ends a namespace init: ctr run returns 137.
  const run = ctrBytes(["run", "--rm", ...tsshim(), image, "killed", "sh", "-c", "echo ready; sleep 1000"]);
  await waitForStatus("killed", "RUNNING");
  const kill = await cd.ctr(["task", "kill", "-s", "SIGKILL", "killed"]);
  assert.equal(kill.code, 0, kill.stderr);
  const r = await run;
  assert.equal(r.code, 137, r.stderr);
  assert.equal(r.stdout.toString(), "ready\n");

  // Execs are never namespace inits: they die of their own signals.
  const id = "sigexec";
  assert.equal((await cd.ctr(["run", "-d", ...tsshim(), image, id, "sleep", "1000"])).code, 0);
  try {
    for (const [n, [script, want]] of (
      [
        ["kill -9 $$", 137],
        ["kill -TERM $$", 143],
        ["kill -USR1 $$", 138],
      ] as const
    ).entries()) {
      const e = await cd.ctr(["task", "exec", "--exec-id", `s${n}`, id, "sh", "-c", script]);
      assert.equal(e.code, want, `exec ${script}: ${e.stderr}`);
    }
  } finally {
    await removeTask(id);
  }
});

async function waitForStatus(id: string, status: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const ls = await cd.ctr(["task", "ls"]);
    last = ls.stdout.match(new RegExp(`^${id}\\s+\\d+\\s+(\\S+)$`, "m"))?.[1] ?? "absent";
    if (last === status) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`task ${id} is ${last}, expected ${status}`);
}

test("8 ctr run --rm at once: each gets its own output and exit code", async () => {
  const runs = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      cd.ctr(
        [
          "run",
          "--rm",
          ...tsshim(),
          image,
          `par${i}`,
          "sh",
          "-c",
          `echo out-${i}; echo err-${i} >&2; exit ${i}`,
        ],
        {
          timeoutMs: 60_000,
        },
      ),
    ),
  );
  runs.forEach((r, i) => {
    assert.deepEqual([r.code, r.stdout, r.stderr], [i, `out-${i}\n`, `err-${i}\n`], `run ${i}`);
  });
});

test("nothing is left behind", async () => {
  await assertNoLeaks(snapshot);
});
