// Creating, entering and removing a container's cgroup directories in one native call each
// (native/cgroup_place.c): a container on a hybrid host has eleven of them, and a JS call per
// file was most of what the cgroup cost in create+start+delete.

import { errnoName } from "../errors.js";
import { CgroupError } from "./files.js";
import { nativeCgroup } from "./native.js";

/** One directory to make; cpuset: a v1 cpuset hierarchy (new dirs get the parent's cpus/mems). */
export interface DirTarget {
  dir: string;
  cpuset: boolean;
}

function asCgroupError(e: unknown): CgroupError {
  if (!(e instanceof Error)) return new CgroupError(String(e), "");
  const r = e as Error & { step?: unknown; path?: unknown; errnoName?: unknown };
  const code = typeof r.errnoName === "string" && r.errnoName !== "" ? r.errnoName : undefined;
  const step = typeof r.step === "string" && r.step !== "" ? `${r.step}: ` : "";
  return new CgroupError(`${step}${e.message}`, typeof r.path === "string" ? r.path : "", code);
}

/** mkdir -p of every target; returns what was made, outermost first. On failure nothing made stays. */
export function makeDirs(targets: readonly DirTarget[]): string[] {
  try {
    return nativeCgroup().cgroupMkdirs(
      targets.map((t) => t.dir),
      targets.map((t) => t.cpuset),
    );
  } catch (e) {
    throw asCgroupError(e);
  }
}

/**
 * On a libuv pool thread (the event loop and the caller's clone go on meanwhile): makeDirs of
 * the targets, then opens every file write-only. The fds are the caller's to close.
 */
export async function prepareAsync(
  targets: readonly DirTarget[],
  files: readonly string[],
): Promise<{ made: string[]; fds: number[] }> {
  try {
    return await nativeCgroup().cgroupPrepareAsync(
      targets.map((t) => t.dir),
      targets.map((t) => t.cpuset),
      files,
    );
  } catch (e) {
    throw asCgroupError(e);
  }
}

/** Moves pid (with its threads) into every cgroup whose cgroup.procs is listed. */
export function enterAll(procsFiles: readonly string[], pid: number): void {
  if (procsFiles.length === 0) return;
  try {
    nativeCgroup().cgroupEnter(procsFiles, pid);
  } catch (e) {
    throw asCgroupError(e);
  }
}

/** rmdir of every dir; the ones still there with the errno name that kept them. */
export function removeDirs(dirs: readonly string[]): { dir: string; code: string }[] {
  const errnos = nativeCgroup().cgroupRmdirs(dirs);
  const left: { dir: string; code: string }[] = [];
  dirs.forEach((dir, i) => {
    const n = errnos[i] ?? 0;
    if (n !== 0) left.push({ dir, code: errnoName(n) });
  });
  return left;
}
