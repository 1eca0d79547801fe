// OCI hooks run through the native spawn and the reaper: state on stdin, exact
// args/env, timeouts that kill, failures with status and stderr.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ContainerState, HookError, runHooks } from "../../src/oci/hooks.js";
import { openFdCount, waitFor, zombieChildren } from "./proc-util.js";

// busybox-static picks its applet from argv[0], so args[0] really is argv[0] here.
const BUSYBOX = "/bin/busybox";

function sh(script: string, env: string[] = []): { path: string; args: string[]; env: string[] } {
  return { path: BUSYBOX, args: ["sh", "-c", script, "hook-arg0"], env };
}

describe("runHooks", () => {
  let dir: string;
  let state: ContainerState;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsshim-proc-hooks-"));
    state = {
      ociVersion: "1.2.0",
      id: "hook-test",
      status: "created",
      pid: 4242,
      bundle: dir,
      annotations: { "org.example/key": "value with spaces" },
    };
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(zombieChildren(), []);
  });

  it("hands the state JSON on stdin and passes args and env exactly", async () => {
    // environ is read first: busybox ash later reuses that memory, emptying /proc/$$/environ.
    const out = join(dir, "exact");
    await runHooks(
      "createRuntime",
      [
        {
          path: BUSYBOX,
          args: [
            "sh",
            "-c",
            'tr "\\0" "\\n" < /proc/$$/environ > "$OUT.env"; tr "\\0" "\\n" < /proc/$$/cmdline > "$OUT.argv"; cat > "$OUT.state"',
            "x",
            "two words",
          ],
          env: [`OUT=${out}`, "FOO=bar baz", "EMPTY="],
        },
      ],
      state,
    );
    assert.deepEqual(JSON.parse(readFileSync(`${out}.state`, "utf8")), state);
    assert.deepEqual(readFileSync(`${out}.argv`, "utf8").split("\n").slice(0, -1), [
      "sh",
      "-c",
      'tr "\\0" "\\n" < /proc/$$/environ > "$OUT.env"; tr "\\0" "\\n" < /proc/$$/cmdline > "$OUT.argv"; cat > "$OUT.state"',
      "x",
      "two words",
    ]);
    assert.deepEqual(readFileSync(`${out}.env`, "utf8").split("\n").slice(0, -1), [
      `OUT=${out}`,
      "FOO=bar baz",
      "EMPTY=",
    ]);
  });

  it("uses [path] as argv and an empty environment when args and env are absent", async () => {
    // A script hook: the kernel runs "/bin/sh <script>" with our argv[0] = the path.
    const out = join(dir, "defaults");
    const script = join(dir, "defaults.sh");
    writeFileSync(script, `#!/bin/sh\nenv > ${out}.env\necho "$0" "$#" > ${out}.argv\n`);
    chmodSync(script, 0o755);
    await runHooks("poststop", [{ path: script }], state);
    assert.equal(readFileSync(`${out}.argv`, "utf8"), `${script} 0\n`);
    // dash adds PWD to its environment; nothing else may come from the shim.
    assert.deepEqual(
      readFileSync(`${out}.env`, "utf8")
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("PWD=")),
      [],
    );
  });

  it("fails with the exit status and the hook's stderr tail", async () => {
    const err = await runHooks("createContainer", [sh("echo something broke >&2; exit 3")], state).then(
      () => assert.fail("the hook failed"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HookError);
    assert.equal(err.message, `hook "${BUSYBOX}" exited with status 3: something broke`);
    assert.equal(err.kind, "createContainer");
    assert.equal(err.detail.status, 3);
  });

  it("reports a hook killed by a signal", async () => {
    await assert.rejects(runHooks("poststart", [sh("kill -KILL $$")], state), {
      message: `hook "${BUSYBOX}" was killed by signal 9 (SIGKILL)`,
    });
  });

  it("kills a hook that outlives its timeout", async () => {
    const pidFile = join(dir, "slow.pid");
    const t0 = Date.now();
    const err = await runHooks(
      "startContainer",
      [{ path: BUSYBOX, args: ["sh", "-c", `echo $$ > ${pidFile}; exec sleep 30`], timeout: 1 }],
      state,
    ).then(
      () => assert.fail("the hook timed out"),
      (e: unknown) => e,
    );
    const took = Date.now() - t0;
    assert.ok(err instanceof HookError);
    assert.equal(err.message, `hook "${BUSYBOX}" timed out after 1s`);
    assert.equal(err.detail.timedOut, true);
    assert.ok(took >= 1000 && took < 5000, `took ${took} ms`);
    const pid = Number(readFileSync(pidFile, "utf8"));
    assert.ok(!existsSync(`/proc/${pid}`), "the hook is killed and reaped");
  });

  it("names a hook binary that does not exist", async () => {
    await assert.rejects(runHooks("prestart", [{ path: "/no/such/hook" }], state), {
      message: 'hook "/no/such/hook" could not start: execve "/no/such/hook": ENOENT',
    });
  });

  it("rejects a relative path and a bad timeout before running anything", async () => {
    await assert.rejects(
      runHooks("prestart", [{ path: "hook" }], state),
      /hook "hook" is not an absolute path/,
    );
    await assert.rejects(runHooks("prestart", [{ path: BUSYBOX, timeout: 0 }], state), /invalid timeout 0/);
  });

  it("stops at the first failing hook", async () => {
    const a = join(dir, "order-a");
    const c = join(dir, "order-c");
    await assert.rejects(
      runHooks("createRuntime", [sh(`touch ${a}`), sh("exit 1"), sh(`touch ${c}`)], state),
      /exited with status 1$/,
    );
    assert.ok(existsSync(a));
    assert.ok(!existsSync(c));
  });

  it("does not fail a hook that ignores a large stdin, and leaks no fd", async () => {
    const big: ContainerState = { ...state, annotations: { big: "x".repeat(1 << 20) } };
    const before = openFdCount();
    for (let i = 0; i < 20; i++) await runHooks("poststart", [sh("exit 0")], big);
    assert.ok(await waitFor(() => openFdCount() === before, 2000), "fds return to their count");
  });
});
