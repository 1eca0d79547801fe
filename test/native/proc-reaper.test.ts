// The one reaper: every orphan reaped and counted, exits before watch() delivered,
// many concurrent watches, and a process that uses it still exits on its own.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nativeProc } from "../../src/oci/native-proc.js";
import { type ExitStatus, Reaper } from "../../src/oci/reaper.js";
import { nodeEnv, readAll, run, sleep, waitFor, zombieChildren } from "./proc-util.js";

const reaper = Reaper.instance();

describe("reaper", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsshim-proc-reaper-"));
    reaper.setSubreaper();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("reaps and counts 1,000 orphans of a double-forking child, leaving no zombie", async () => {
    const seen = new Set<number>();
    reaper.onOrphan((e) => seen.add(e.pid));
    const before = reaper.orphansReaped;
    // Each (sleep &) subshell exits at once; its sleep is reparented to us, the subreaper.
    const { exit } = await run("/bin/sh", [
      "sh",
      "-c",
      "i=0; while [ $i -lt 1000 ]; do (sleep 0.2 &); i=$((i+1)); done",
    ]);
    assert.equal(exit.status, 0);
    const done = await waitFor(() => reaper.orphansReaped - before >= 1000, 30_000);
    assert.ok(done, `only ${reaper.orphansReaped - before} orphans reaped`);
    await sleep(300); // nothing more may arrive: exactly the 1,000 sleeps
    assert.equal(reaper.orphansReaped - before, 1000);
    assert.equal(seen.size, 1000, "the orphan callback saw each pid once");
    assert.deepEqual(zombieChildren(), []);
    reaper.onOrphan(undefined);
  });

  it("delivers an exit that happened before watch() for an expected pid", async () => {
    const native = nativeProc();
    const orphansBefore = reaper.orphansReaped;
    const { pid, pidfd } = native.spawn({ file: "/bin/sh", argv: ["sh", "-c", "exit 7"], envp: [] });
    reaper.expect(pid);
    await waitFor(() => zombieChildren().length === 0 && !existsProc(pid), 5000);
    await sleep(50); // let the SIGCHLD drain run
    const exit = await reaper.watch(pid, { pidfd });
    native.closeFd(pidfd);
    assert.equal(exit.status, 7);
    assert.equal(reaper.orphansReaped, orphansBefore, "an expected pid is not an orphan");
    // A later watch of the same, long gone, pid gets the same status.
    assert.deepEqual(await reaper.watch(pid), exit);
  });

  it("delivers an exit reaped before expect() and watch() were called", async () => {
    const native = nativeProc();
    const { pid, pidfd } = native.spawn({ file: "/bin/sh", argv: ["sh", "-c", "exit 9"], envp: [] });
    await waitFor(() => !existsProc(pid), 5000);
    await sleep(50);
    reaper.expect(pid, pidfd); // late: must not discard the stored exit as stale
    const exit = await reaper.watch(pid, { pidfd });
    native.closeFd(pidfd);
    assert.equal(exit.status, 9);
  });

  it("delivers an exit that happened before watch() even without expect()", async () => {
    const native = nativeProc();
    const { pid, pidfd } = native.spawn({ file: "/bin/sh", argv: ["sh", "-c", "kill -TERM $$"], envp: [] });
    await waitFor(() => !existsProc(pid), 5000);
    await sleep(50);
    const exit = await reaper.watch(pid, { pidfd });
    native.closeFd(pidfd);
    assert.equal(exit.signal, 15);
    assert.equal(exit.status, 143);
  });

  it("rejects a watch for a pid it never saw and that does not exist", async () => {
    await assert.rejects(reaper.watch(2 ** 22 + 4321), /exit status of pid \d+ is not known/);
    await assert.rejects(reaper.watch(0), /invalid pid 0/);
  });

  it("serves many concurrent watches, several per pid", async () => {
    const n = 200;
    const children = Array.from({ length: n }, (_, i) =>
      reaper.spawn({ file: "/bin/sh", args: ["sh", "-c", `sleep 0.0$((${i} % 5)); exit ${i % 256}`] }),
    );
    const extra = children.map((c) => reaper.watch(c.pid, { pidfd: c.pidfd }));
    assert.equal(reaper.watchedCount, n);
    const [first, second] = await Promise.all([
      Promise.all(children.map((c) => c.exited)),
      Promise.all(extra),
    ]);
    first.forEach((e: ExitStatus, i) => {
      assert.equal(e.pid, children[i]!.pid);
      assert.equal(e.status, i % 256);
    });
    assert.deepEqual(second, first);
    assert.equal(reaper.watchedCount, 0);
    assert.deepEqual(zombieChildren(), []);
  });

  it("lets a process that uses it exit by itself, but not while a watched pid runs", async () => {
    const script = join(dir, "exits.mjs");
    const reaperUrl = new URL("../../src/oci/reaper.js", import.meta.url).href;
    writeFileSync(
      script,
      [
        `import { Reaper } from ${JSON.stringify(reaperUrl)};`,
        "const r = Reaper.instance();",
        "r.setSubreaper();",
        // No await: only the watch keeps this process alive until sleep exits.
        "r.spawn({ file: '/bin/sleep', args: ['sleep', '0.3'] }).exited.then((e) => console.log('exited', e.status));",
        "",
      ].join("\n"),
    );
    const native = nativeProc();
    const [outR, outW] = native.pipe();
    const t0 = Date.now();
    const child = reaper.spawn({
      file: process.execPath,
      args: ["node", script],
      env: nodeEnv(),
      fds: [-1, outW, 2],
    });
    native.closeFd(outW);
    const timer = setTimeout(() => child.kill(9), 10_000);
    const [exit, stdout] = await Promise.all([child.exited, readAll(outR)]);
    clearTimeout(timer);
    assert.equal(exit.status, 0, "exited by itself (a hang is killed with status 137)");
    assert.equal(stdout, "exited 0\n", "stayed alive until the watched pid exited");
    assert.ok(Date.now() - t0 < 10_000);
  });
});

function existsProc(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
