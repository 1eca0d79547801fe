// OCI hooks as the runtime-spec defines them: the container state JSON on stdin,
// path/args/env exactly as given (args[0] is argv[0]), an optional timeout in seconds
// after which the hook is killed. A hook that fails or times out is an error; the
// caller decides what that means for the operation (poststart/poststop only warn).
import { Socket } from "node:net";
import { isNativeError, nativeProc } from "./native-proc.js";
import { Reaper } from "./reaper.js";
import { signalName } from "./signals.js";

export type HookKind =
  | "prestart"
  | "createRuntime"
  | "createContainer"
  | "startContainer"
  | "poststart"
  | "poststop";

export interface Hook {
  path: string;
  args?: readonly string[];
  env?: readonly string[];
  /** Seconds; must be > 0 when present. */
  timeout?: number;
}

/** The runtime-spec state object handed to hooks. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: "creating" | "created" | "running" | "stopped";
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

export class HookError extends Error {
  override name = "HookError";
  constructor(
    message: string,
    readonly kind: HookKind,
    readonly path: string,
    readonly detail: { status?: number; timedOut?: boolean; stderr?: string } = {},
  ) {
    super(message);
  }
}

/** Most of a hook's stderr kept for the error message. */
const STDERR_TAIL = 4096;
/** After the hook exits, how long a grandchild holding its stderr may delay us. */
const STDERR_DRAIN_MS = 500;

/** Runs hooks in order; the first failure stops the rest and is thrown as a HookError. */
export async function runHooks(
  kind: HookKind,
  hooks: readonly Hook[] | undefined,
  state: ContainerState,
): Promise<void> {
  if (hooks === undefined || hooks.length === 0) return;
  const stdin = JSON.stringify(state);
  for (const hook of hooks) await runHook(kind, hook, stdin);
}

async function runHook(kind: HookKind, hook: Hook, stdin: string): Promise<void> {
  const fail = (msg: string, detail: HookError["detail"] = {}) =>
    new HookError(`hook "${hook.path}" ${msg}`, kind, hook.path, detail);
  if (!hook.path.startsWith("/")) throw fail("is not an absolute path");
  if (hook.timeout !== undefined && !(Number.isInteger(hook.timeout) && hook.timeout > 0)) {
    throw fail(`has an invalid timeout ${hook.timeout}: it must be a positive number of seconds`);
  }

  const native = nativeProc();
  const reaper = Reaper.instance();
  const [inR, inW] = native.pipe();
  const [errR, errW] = native.pipe();
  let child: ReturnType<Reaper["spawn"]>;
  try {
    child = reaper.spawn({
      file: hook.path,
      args: hook.args ?? [hook.path],
      env: hook.env ?? [],
      fds: [inR, -1, errW],
      newProcessGroup: true,
    });
  } catch (e) {
    for (const fd of [inR, inW, errR, errW]) native.closeFd(fd);
    throw fail(`could not start: ${e instanceof Error ? e.message : String(e)}`, {
      ...(isNativeError(e) ? { status: 127 } : {}),
    });
  }
  // The child has its own copies now.
  native.closeFd(inR);
  native.closeFd(errW);

  // The sockets own the parent's ends from here and close them when destroyed.
  const input = new Socket({ fd: inW, readable: false, writable: true });
  input.on("error", () => {
    // A hook need not read its stdin: EPIPE is not its failure.
  });
  input.end(stdin);

  const errOut = new Socket({ fd: errR, readable: true, writable: false });
  let tail = Buffer.alloc(0);
  errOut.on("data", (chunk: Buffer) => {
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > STDERR_TAIL) tail = tail.subarray(tail.length - STDERR_TAIL);
  });
  const errClosed = new Promise<void>((resolve) => {
    errOut.on("close", () => resolve());
    errOut.on("error", () => resolve());
  });

  let timedOut = false;
  const timer =
    hook.timeout === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          child.kill(9);
        }, hook.timeout * 1000);
  let exit: Awaited<typeof child.exited>;
  try {
    exit = await child.exited;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }

  let grace: NodeJS.Timeout | undefined;
  await Promise.race([
    errClosed,
    new Promise<void>((resolve) => {
      grace = setTimeout(resolve, STDERR_DRAIN_MS);
    }),
  ]);
  clearTimeout(grace);
  errOut.destroy();
  input.destroy();

  const stderr = tail.toString("utf8").trim();
  if (timedOut)
    throw fail(`timed out after ${hook.timeout}s`, { timedOut: true, status: exit.status, stderr });
  if (exit.status !== 0) {
    const how =
      exit.signal !== null
        ? `was killed by signal ${exit.signal} (${signalName(exit.signal)})`
        : `exited with status ${exit.status}`;
    throw fail(stderr === "" ? how : `${how}: ${stderr}`, { status: exit.status, stderr });
  }
}
