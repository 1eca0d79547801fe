// A spare's fork (native/fork_detached.c via nativeProc().forkDetached()) in
// a real Node process run as the launcher runs spares (--single-threaded):
// the fork is detached as a shim must be (own session, not the caller's
// child), its JS goes on with a working event loop — timers, the libuv
// threadpool, a full GC, sockets — and reports its own pid once it replaced
// Node's; the caller keeps serving and is left with no zombie; V8's heap is
// DONTFORK again in both, so their own clones do not copy it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { nodeEnvRecord } from "./proc-util.js";

const NATIVE_PROC = fileURLToPath(new URL("../../src/oci/native-proc.js", import.meta.url));

// argv: native-proc module, output dir, number of forks.
const SPARE = `
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
const { nativeProc } = await import(process.argv[1]);
const out = process.argv[2];
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");
const dc = () => (readFileSync("/proc/self/smaps", "utf8").match(/^VmFlags:.* dc/gm) ?? []).length;
const stat = () => { const f = readFileSync("/proc/self/stat", "utf8"); return f.slice(f.lastIndexOf(")") + 2).split(" "); };
await readFile("/proc/self/status"); // the threadpool exists before the fork
const children = [];
for (let n = 0; n < Number(process.argv[3]); n++) {
  const pid = nativeProc().forkDetached();
  if (pid === 0) {
    Object.defineProperty(process, "pid", { value: Number(readlinkSync("/proc/self")), enumerable: true });
    const [, ppid, , sid] = stat();
    let junk = [];
    for (let i = 0; i < 200000; i++) junk.push({ i, s: "x" + i });
    junk = null;
    gc();
    await new Promise((r) => setTimeout(r, 20));
    const status = await readFile("/proc/self/status", "utf8");
    const path = out + "/sock-" + process.pid;
    const echoed = await new Promise((resolve, reject) => {
      const srv = createServer((s) => s.end("hello")).listen(path, () => {
        const c = connect(path);
        let got = "";
        c.on("data", (d) => (got += d));
        c.on("end", () => { srv.close(); resolve(got); });
        c.on("error", reject);
      });
    });
    writeFileSync(out + "/child-" + n + ".json", JSON.stringify({
      n, pid: process.pid, ppid: Number(ppid), sid: Number(sid), dc: dc(),
      threadpool: status.includes("Pid:"), echoed,
    }));
    process.exit(0);
  }
  children.push(pid);
}
await new Promise((r) => setTimeout(r, 50));
writeFileSync(out + "/spare.json", JSON.stringify({ pid: process.pid, children, dc: dc() }));
`;

test("a fork is a detached, working copy of the spare, and the spare goes on", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-fork-"));
  try {
    const forks = 3;
    const r = spawnSync(
      process.execPath,
      ["--single-threaded", "--input-type=module", "-e", SPARE, NATIVE_PROC, dir, String(forks)],
      { env: nodeEnvRecord(), encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const spare = JSON.parse(readFileSync(join(dir, "spare.json"), "utf8")) as {
      pid: number;
      children: number[];
      dc: number;
    };
    assert.ok(spare.dc > 0, "V8's heap is DONTFORK again in the spare");
    // The forks finish on their own; wait for every report.
    const deadline = Date.now() + 20_000;
    const reports: Record<string, unknown>[] = [];
    for (let n = 0; n < forks; n++) {
      for (;;) {
        try {
          reports.push(
            JSON.parse(readFileSync(join(dir, `child-${n}.json`), "utf8")) as Record<string, unknown>,
          );
          break;
        } catch {
          if (Date.now() > deadline) assert.fail(`fork ${n} never reported (hung or crashed)`);
          spawnSync("sleep", ["0.05"]);
        }
      }
    }
    for (const [n, c] of reports.entries()) {
      assert.equal(c["pid"], spare.children[n], "forkDetached() returned the fork's pid");
      assert.notEqual(c["pid"], spare.pid);
      assert.notEqual(c["ppid"], spare.pid, "not the spare's child: the middle process is gone");
      assert.equal(c["sid"], c["pid"], "its own session");
      assert.equal(c["threadpool"], true, "the libuv threadpool works after the fork");
      assert.equal(c["echoed"], "hello", "sockets and the re-armed event loop work");
      assert.ok((c["dc"] as number) > 0, "V8's heap is DONTFORK again in the fork");
    }
    // No zombie of the middle processes under the (exited) spare, no fork left running.
    for (const pid of spare.children) {
      let alive = true;
      for (let i = 0; i < 100 && alive; i++) {
        try {
          process.kill(pid, 0);
          spawnSync("sleep", ["0.05"]);
        } catch {
          alive = false;
        }
      }
      assert.equal(alive, false, `fork ${pid} exited`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
