// Helpers for the process tests. These tests run the native Reaper, which waits with
// P_ALL: nothing here may use node:child_process.
import { readdirSync, readFileSync } from "node:fs";
import { Socket } from "node:net";
import { nativeProc } from "../../src/oci/native-proc.js";
import { type ExitStatus, Reaper, type SpawnOptions } from "../../src/oci/reaper.js";

/** Reads a pipe's read end to EOF; the fd is owned (and closed) by the socket. */
export function readAll(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", reject);
    s.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

export interface RunResult {
  exit: ExitStatus;
  stdout: string;
  stderr: string;
}

/** Spawns through the Reaper with stdout/stderr captured; extra fds map to 3, 4, ... */
export async function run(
  file: string,
  args: readonly string[],
  opts: Omit<SpawnOptions, "file" | "args" | "fds"> & { extraFds?: readonly number[] } = {},
): Promise<RunResult> {
  const native = nativeProc();
  const [outR, outW] = native.pipe();
  const [errR, errW] = native.pipe();
  const { extraFds, ...rest } = opts;
  let child: ReturnType<Reaper["spawn"]>;
  try {
    child = Reaper.instance().spawn({ ...rest, file, args, fds: [-1, outW, errW, ...(extraFds ?? [])] });
  } catch (e) {
    for (const fd of [outR, outW, errR, errW]) native.closeFd(fd);
    throw e;
  }
  // Only the child keeps the write ends once it runs.
  native.closeFd(outW);
  native.closeFd(errW);
  const [exit, stdout, stderr] = await Promise.all([child.exited, readAll(outR), readAll(errR)]);
  return { exit, stdout, stderr };
}

/** Pids of zombies whose parent is this process. */
export function zombieChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // After the comm field "(...)": state, ppid.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" && Number(fields[1]) === process.pid) out.push(Number(name));
  }
  return out;
}

export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls cond every 20 ms until it holds or ms pass; returns whether it held. */
export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

/**
 * The environment for spawned node processes, without what slows
 * (NODE_EXTRA_CA_CERTS) or changes (NODE_OPTIONS, the runner's NODE_TEST*) a start.
 */
export function nodeEnvRecord(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== "NODE_EXTRA_CA_CERTS" && k !== "NODE_OPTIONS" && !k.startsWith("NODE_TEST"))
      env[k] = v;
  }
  return env;
}

/** nodeEnvRecord() as an envp. */
export function nodeEnv(): string[] {
  return Object.entries(nodeEnvRecord()).map(([k, v]) => `${k}=${v}`);
}
