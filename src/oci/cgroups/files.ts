// Plain file access to cgroupfs with errors that name the file. Writes open the existing file
// (never O_CREAT: a missing interface file means a missing controller, and that
// should say so rather than fail oddly).

import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

export class CgroupError extends Error {
  readonly code: string | undefined;
  readonly path: string;
  constructor(message: string, path: string, code?: string) {
    super(message);
    this.name = "CgroupError";
    this.path = path;
    this.code = code;
  }
}

function errno(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") return e.code;
  return undefined;
}

function wrap(e: unknown, what: string, path: string): CgroupError {
  const code = errno(e);
  return new CgroupError(`${what} ${JSON.stringify(path)}: ${code ?? String(e)}`, path, code);
}

export function writeFile(path: string, data: string): void {
  let fd: number;
  try {
    // libuv adds O_CLOEXEC to every open. O_TRUNC is what `echo v > file` does: cgroupfs
    // ignores it, and it keeps plain files (tests, fake trees) exact.
    fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
  } catch (e) {
    throw wrap(e, "open", path);
  }
  try {
    writeSync(fd, data);
  } catch (e) {
    throw wrap(e, `write ${JSON.stringify(data)} to`, path);
  } finally {
    closeSync(fd);
  }
}

export function readFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw wrap(e, "read", path);
  }
}

export function exists(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

/** mkdir -p; returns the directories it actually created, outermost first. */
export function mkdirs(path: string): string[] {
  // One recursive mkdir in C++ instead of a throw per existing component (Node builds a
  // stack for each EEXIST): it returns the first directory it made, and every one below
  // it down to `path` is new too.
  let first: string | undefined;
  try {
    first = mkdirSync(path, { recursive: true });
  } catch (e) {
    throw wrap(e, "mkdir", path);
  }
  if (first === undefined) return [];
  const made = [first];
  const rest = path
    .slice(first.length)
    .split("/")
    .filter((p) => p !== "");
  let cur = first;
  for (const p of rest) {
    cur = `${cur}/${p}`;
    made.push(cur);
  }
  return made;
}

export function readPids(procsFile: string): number[] {
  let text: string;
  try {
    text = readFileSync(procsFile, "utf8");
  } catch (e) {
    if (errno(e) === "ENOENT") return [];
    throw wrap(e, "read", procsFile);
  }
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map(Number);
}

/** Pids of dir and of every cgroup below it (a container may make sub-cgroups of its own). */
export function readPidsTree(dir: string): number[] {
  return leafFirst(dir).flatMap((d) => readPids(join(d, "cgroup.procs")));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Child cgroups of dir (recursively), deepest first, then dir itself. */
function leafFirst(dir: string): string[] {
  const out: string[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch (e) {
    if (errno(e) === "ENOENT") return [];
    throw wrap(e, "read directory", dir);
  }
  for (const name of entries) out.push(...leafFirst(join(dir, name)));
  out.push(dir);
  return out;
}

/**
 * Removes dir and every cgroup below it, deepest first. rmdir of a cgroup fails with EBUSY
 * while tasks are still leaving it (exit in progress), so it is retried until `deadline`.
 */
export async function removeTree(dir: string, deadline: number): Promise<void> {
  let delay = 1;
  for (;;) {
    let busy: { dir: string; code: string } | undefined;
    for (const d of leafFirst(dir)) {
      try {
        rmdirSync(d);
      } catch (e) {
        const code = errno(e);
        if (code === "ENOENT") continue;
        if (code !== "EBUSY" && code !== "ENOTEMPTY") throw wrap(e, "rmdir", d);
        busy = { dir: d, code };
        break;
      }
    }
    if (busy === undefined) return;
    if (Date.now() >= deadline) {
      const pids = readPids(join(busy.dir, "cgroup.procs"));
      const who = pids.length > 0 ? `still holds pids ${pids.join(", ")}` : "is still busy";
      throw new CgroupError(
        `rmdir ${JSON.stringify(busy.dir)}: ${busy.code}: cgroup ${who}`,
        busy.dir,
        busy.code,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}
