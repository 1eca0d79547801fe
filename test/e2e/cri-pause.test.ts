// The project's pause binary (tools/pause/pause.c), run directly: static,
// exits 0 on SIGTERM/SIGINT, survives SIGCHLD and SIGHUP-free idling, refuses
// arguments, and as PID 1 of a PID namespace reaps the orphans it inherits.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { pauseBinary } from "../helpers/pause-image.js";
import { sleep } from "../helpers/proc.js";

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

test("pause is a static executable", () => {
  const elf = readFileSync(pauseBinary());
  assert.equal(elf.subarray(0, 4).toString("latin1"), "\x7fELF");
  // No PT_INTERP: nothing to load from the (empty) image.
  assert.equal(elf.includes(Buffer.from("/lib64/ld-linux")), false);
});

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  test(`pause exits 0 on ${sig} and not on SIGCHLD`, async () => {
    const child = spawn(pauseBinary(), [], { stdio: "ignore" });
    const done = exited(child);
    await sleep(100);
    child.kill("SIGCHLD");
    await sleep(100);
    assert.equal(child.exitCode, null, "still running after SIGCHLD");
    child.kill(sig);
    assert.deepEqual(await done, { code: 0, signal: null });
  });
}

test("pause refuses arguments", () => {
  assert.throws(() => execFileSync(pauseBinary(), ["-v"], { stdio: "pipe" }), /takes no arguments/);
});

test("as PID 1 of a new PID namespace pause reaps reparented orphans", async () => {
  // unshare forks pause as PID 1; nsenter then starts a shell in that PID
  // namespace whose background child outlives it and is reparented to pause.
  const ns = spawn("unshare", ["--pid", "--fork", pauseBinary()], { stdio: "ignore" });
  const done = exited(ns);
  try {
    let pause = 0;
    for (let i = 0; i < 100 && pause === 0; i++) {
      await sleep(20);
      const kids = readFileSync(`/proc/${ns.pid}/task/${ns.pid}/children`, "utf8").trim();
      pause = kids === "" ? 0 : Number(kids.split(" ")[0]);
    }
    assert.ok(pause > 0, "pause started");
    execFileSync(
      "nsenter",
      ["-t", String(pause), "-p", "--", "/bin/sh", "-c", "sleep 0.3 & sleep 0.3 & exit 0"],
      {
        // Not "pipe": execFileSync would then wait for the sleeps to close it.
        stdio: "ignore",
      },
    );
    const orphans = (): string[] => {
      const kids = readFileSync(`/proc/${pause}/task/${pause}/children`, "utf8").trim();
      return kids === "" ? [] : kids.split(" ");
    };
    assert.equal(orphans().length, 2, "both sleeps were reparented to pause");
    // Once they exit, pause reaps them: no zombie stays behind.
    for (let i = 0; i < 100 && orphans().length > 0; i++) await sleep(20);
    assert.deepEqual(orphans(), []);
    process.kill(pause, "SIGTERM");
    assert.deepEqual(await done, { code: 0, signal: null });
  } finally {
    if (ns.exitCode === null && ns.signalCode === null) ns.kill("SIGKILL");
  }
});
