// containerd away for a while (15 s here, TSSHIM_DOWNTIME_S=60 in the soak)
// while containers exit and write output to file:// logs and FIFOs. After
// the restart every exit is there with its status, the file:// logs are
// complete, and FIFO output is there within the pipe's limits:
//  - a running writer whose FIFO reader is gone fills the pipe buffer
//    (64 KiB) and then blocks; once a reader opens the FIFO again, every
//    byte arrives in order and the process finishes;
//  - a process that exits while nobody reads its FIFO: what it wrote is in
//    the pipe until the shim releases its held end at the exit; then the
//    pipe has no open end and the kernel frees the buffer (measured below).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import {
  closeSync,
  constants,
  createReadStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Status } from "../../src/api/gen/containerd/v1/types/task_pb.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { containerdClient } from "../helpers/grpc.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";
import { sleep } from "../helpers/proc.js";

const DOWNTIME_S = Number(process.env.TSSHIM_DOWNTIME_S ?? 15);
const LINE = (i: number): string => `${String(i).padStart(7, "0")}-abcdefghijklmnopqrstuvwxyz0123456789`;
const LINES = 4_000;

let cd: Containerd;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  cd = await startContainerd();
  image = await importBusyboxImage(cd);
  snapshot = takeLeakSnapshot(cd);
});

after(async () => {
  if (existsSync(cd.dir)) await cd.stop();
});

/** Prints LINES numbered lines after `wait` seconds, recording progress in /tmp/n, then exits `code`. */
function writer(waitS: number, lines: number, code: number): string {
  return `sleep ${waitS}; i=0; while [ $i -lt ${lines} ]; do printf '%07d-abcdefghijklmnopqrstuvwxyz0123456789\\n' $i; i=$((i+1)); echo $i > /tmp/n; done; exit ${code}`;
}

function findFifo(id: string, stream: string): string {
  const walk = (d: string): string | undefined => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        const f = walk(p);
        if (f !== undefined) return f;
      } else if (e.name === `${id}-${stream}`) return p;
    }
    return undefined;
  };
  const f = walk(cd.fifoDir);
  assert.ok(f !== undefined, `no ${stream} FIFO of ${id} under ${cd.fifoDir}`);
  return f;
}

async function readAll(path: string, timeoutMs: number): Promise<string> {
  const chunks: Buffer[] = [];
  const s = createReadStream(path);
  const timer = setTimeout(
    () => s.destroy(new Error(`reading ${path} took over ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    for await (const c of s) chunks.push(c as Buffer);
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Bytes readable from a FIFO right now, without waiting for a writer. */
function readNow(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1 << 16);
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") return total;
        throw err;
      }
      if (n === 0) return total;
      total += n;
    }
  } finally {
    closeSync(fd);
  }
}

function expectedLines(n: number): string {
  return Array.from({ length: n }, (_, i) => `${LINE(i)}\n`).join("");
}

test(`containerd down ${DOWNTIME_S} s while containers exit and write: exits and output are there`, {
  timeout: 60_000 + DOWNTIME_S * 1_000,
}, async () => {
  const logExit = join(cd.dir, "exit.log");
  const logRun = join(cd.dir, "run.log");
  const runD = async (id: string, log: string, cmd: string): Promise<void> => {
    const r = await cd.ctr([
      "run",
      "-d",
      "--log-uri",
      `file://${log}`,
      ...cd.runtimeFlags("tsshim"),
      image,
      id,
      "sh",
      "-c",
      cmd,
    ]);
    assert.equal(r.code, 0, r.stderr);
  };
  await runD("file-exit", logExit, writer(2, LINES, 3));
  await runD("file-run", logRun, "i=0; while :; do echo tick-$i; i=$((i+1)); sleep 0.1; done");
  // Attached clients (`ctr run` without -d): they are the FIFOs' readers.
  const clients: ChildProcess[] = [
    cd.spawnCtr(["run", ...cd.runtimeFlags("tsshim"), image, "fifo-run", "sh", "-c", writer(2, LINES, 5)]),
    cd.spawnCtr(["run", ...cd.runtimeFlags("tsshim"), image, "fifo-exit", "sh", "-c", writer(2, 100, 4)]),
  ];
  const deadline = Date.now() + 20_000;
  while (!(await cd.ctr(["task", "ls"])).stdout.includes("fifo-exit")) {
    assert.ok(Date.now() < deadline, "attached containers did not start");
    await sleep(50);
  }
  await sleep(300);
  const ls = await cd.ctr(["task", "ls"]);
  const pid = (id: string): number => Number(ls.stdout.match(new RegExp(`^${id}\\s+(\\d+)`, "m"))?.[1]);
  const fifoRunPid = pid("fifo-run");
  const fifoRunOut = findFifo("fifo-run", "stdout");
  const fifoExitOut = findFifo("fifo-exit", "stdout");

  // The readers go first, by SIGKILL, then containerd. The other order is a
  // race this test used to lose: ctr 1.6 notices containerd's death on its Wait
  // stream and its deferred task.Delete closes its cio (removing the FIFO dir)
  // before the Delete RPC fails; the shim still holds the pipes and their bytes
  // but nobody can open them by name again. A dead reader is what is tested.
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) resolve();
          else {
            c.once("exit", () => resolve());
            c.kill("SIGKILL");
          }
        }),
    ),
  );
  assert.ok(existsSync(fifoRunOut) && existsSync(fifoExitOut), "FIFOs gone with their SIGKILLed readers");
  await cd.kill9();
  await sleep(DOWNTIME_S * 1_000);
  const writtenWhileDown = Number(readFileSync(`/proc/${fifoRunPid}/root/tmp/n`, "utf8").trim());
  await cd.restart();

  const client = containerdClient(cd.address, cd.namespace);
  try {
    const get = async (id: string) => (await client.tasks.get({ containerId: id })).process;
    for (const [id, code] of [
      ["file-exit", 3],
      ["fifo-exit", 4],
    ] as const) {
      const p = await get(id);
      assert.equal(p?.status, Status.STOPPED, `${id} status`);
      assert.equal(p?.exitStatus, code, `${id} exit status`);
    }
    assert.equal((await get("file-run"))?.status, Status.RUNNING);
    assert.equal((await get("fifo-run"))?.status, Status.RUNNING, "fifo-run waits on its full pipe");

    assert.equal(readFileSync(logExit, "utf8"), expectedLines(LINES), "file:// log of the exited container");
    const ticks = readFileSync(logRun, "utf8").trim().split("\n");
    assert.ok(ticks.length >= DOWNTIME_S * 5, `only ${ticks.length} ticks`);
    for (const [i, t] of ticks.entries()) assert.equal(t, `tick-${i}`);

    // A reader again: the rest flows, in order, and the process finishes.
    const fifoRun = await readAll(fifoRunOut, 30_000);
    assert.equal(fifoRun, expectedLines(LINES), "fifo-run output after the reader came back");
    const exited = await client.tasks.wait({ containerId: "fifo-run" }, { timeoutMs: 10_000 });
    assert.equal(exited.exitStatus, 5);

    // Nobody holds this FIFO any more, so a plain open for reading would block
    // for ever (a threadpool open no timeout can cancel: the test used to hang
    // here). Non-blocking, the open succeeds and a read says what is left.
    const fifoExitBytes = readNow(fifoExitOut);
    console.log(
      `fault-downtime: ${DOWNTIME_S} s down; fifo-run wrote ${writtenWhileDown} of ${LINES} lines ` +
        `(${writtenWhileDown * (LINE(0).length + 1)} bytes) while nobody read, then blocked; ` +
        `fifo-exit (exited while down, ${100 * (LINE(0).length + 1)} bytes written): ${fifoExitBytes} bytes readable after restart`,
    );
    // Pipe buffer: 16 pages; the line that did not fit is the one blocked.
    assert.ok(writtenWhileDown * (LINE(0).length + 1) <= 65_536 + LINE(0).length + 1);
    assert.ok(writtenWhileDown < LINES, "fifo-run should have blocked on the full pipe");
    // Documented (docs/reliability.md): output of a process that exits while
    // nobody reads its FIFO is freed with the pipe; file:// logs keep it.
    assert.equal(fifoExitBytes, 0, "fifo-exit bytes after restart (docs/reliability.md says 0)");
  } finally {
    client.close();
  }
  for (const id of ["file-exit", "file-run", "fifo-run", "fifo-exit"]) {
    await cd.ctr(["task", "kill", "-s", "SIGKILL", id]);
    await cd.ctr(["task", "rm", "-f", id]);
    assert.equal((await cd.ctr(["container", "rm", id])).code, 0);
  }
  await assertNoLeaks(snapshot, 10_000);
});
