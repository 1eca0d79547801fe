// createContainer and startContainer hooks: run inside the container's namespaces
// (the runtime-spec's requirement), as processes exec'd into the container through
// the same path as `exec`. Differences from runc, on purpose:
//  - runc runs createContainer hooks in the container's mount namespace *before*
//    pivot_root, so their path is resolved on the host's tree; here they run after
//    the rootfs is in place, so `path` is resolved inside the container's root (as
//    for startContainer hooks in both runtimes).
//  - args[0] is not passed as argv[0]: argv[0] is the hook's path.
// The hook runs as uid/gid 0 of the container with the init's capability bounding
// set inherited from the runtime (all capabilities), stdin = the state JSON.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContainerProcess, ExecOptions } from "./container.js";
import { type ContainerState, type Hook, HookError, type HookKind } from "./hooks.js";
import { nativeProc } from "./native-proc.js";
import type { Process } from "./spec.js";

export type ExecInside = (proc: Process, opts: ExecOptions) => Promise<ContainerProcess>;

export async function runHooksInContainer(
  kind: HookKind,
  hooks: readonly Hook[] | undefined,
  state: ContainerState,
  execInside: ExecInside,
): Promise<void> {
  if (hooks === undefined || hooks.length === 0) return;
  const stdin = JSON.stringify(state);
  for (const hook of hooks) await runOne(kind, hook, stdin, execInside);
}

async function runOne(kind: HookKind, hook: Hook, stdin: string, execInside: ExecInside): Promise<void> {
  const fail = (msg: string, detail: HookError["detail"] = {}) =>
    new HookError(`${kind} hook "${hook.path}" ${msg}`, kind, hook.path, detail);
  if (!hook.path.startsWith("/")) throw fail("is not an absolute path");
  const native = nativeProc();
  const [inR, inW] = native.pipe();
  const dir = mkdtempSync(join(tmpdir(), "tsshim-hook-"));
  const errFd = openSync(join(dir, "stderr"), "w+");
  try {
    // The state fits in the pipe buffer: write it all now, then EOF.
    writeSync(inW, stdin);
    closeSync(inW);
    let p: ContainerProcess;
    try {
      p = await execInside(
        {
          user: { uid: 0, gid: 0 },
          args: [hook.path, ...(hook.args ?? []).slice(1)],
          env: [...(hook.env ?? [])],
          cwd: "/",
        },
        { stdio: { stdin: inR, stderr: errFd } },
      );
    } catch (e) {
      throw fail(`could not start: ${e instanceof Error ? e.message : String(e)}`);
    }
    let timedOut = false;
    const timer =
      hook.timeout === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            if (p.running) p.kill(9);
          }, hook.timeout * 1000);
    const exit = await p.wait();
    if (timer !== undefined) clearTimeout(timer);
    const stderr = readFileSync(join(dir, "stderr"), "utf8").trim().slice(-4096);
    if (timedOut) throw fail(`timed out after ${hook.timeout} s`, { timedOut: true, stderr });
    if (exit.status !== 0) {
      throw fail(`failed with status ${exit.status}${stderr !== "" ? `: ${stderr}` : ""}`, {
        status: exit.status,
        stderr,
      });
    }
  } finally {
    closeSync(inR);
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}
