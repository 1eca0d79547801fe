// The one interface both cgroup versions implement (crun keeps a table of backends the same way).
// The manager picks a backend for the controllers (v1 or v2) and, in hybrid mode, keeps a second
// v2 backend for placement and cgroup.kill only.

import type { LinuxResources } from "../spec.js";
import type { DirTarget } from "./place.js";

export type FreezerState = "thawed" | "freezing" | "frozen";

/**
 * What applyResources did: the sections it wrote, and the fields that were set but that this
 * backend does not implement (yet): whole sections ("cpu") or single fields ("memory.swappiness").
 */
export interface ResourceReport {
  applied: (keyof LinuxResources)[];
  unsupported: string[];
}

export interface CgroupBackend {
  readonly version: 1 | 2;
  /** The container's directory in every hierarchy this backend covers. */
  dirs(): string[];
  /** The directories to mkdir -p (the manager makes every backend's in one native call). */
  createTargets(): DirTarget[];
  /** What must follow the mkdirs (v2: enabling controllers down to the new cgroup). */
  afterCreate(): void;
  enter(pid: number): void;
  procsFiles(): string[];
  pids(): number[];
  canFreeze(): boolean;
  freeze(timeoutMs: number): Promise<void>;
  thaw(): Promise<void>;
  freezerState(): FreezerState;
  /** Kills every process with cgroup.kill if the kernel has it; false when it does not. */
  killAll(): boolean;
  applyResources(resources: LinuxResources): ResourceReport;
}

/** One writer per controller: returns the fields of its section it could not apply. */
export type ResourceWriter<Ctx> = (ctx: Ctx, resources: LinuxResources) => string[];

export function applyWith<Ctx>(
  writers: Partial<Record<keyof LinuxResources, ResourceWriter<Ctx>>>,
  ctx: Ctx,
  resources: LinuxResources,
): ResourceReport {
  const report: ResourceReport = { applied: [], unsupported: [] };
  for (const k of Object.keys(resources) as (keyof LinuxResources)[]) {
    if (resources[k] === undefined) continue;
    const write = writers[k];
    if (write === undefined) {
      report.unsupported.push(k);
      continue;
    }
    try {
      report.unsupported.push(...write(ctx, resources));
      report.applied.push(k);
    } catch (e) {
      // A controller this host does not mount: like runc, carry on without it, but say so.
      if (!(e instanceof MissingController)) throw e;
      report.unsupported.push(`${k} (no ${e.controller} controller)`);
    }
  }
  return report;
}

/** Thrown by a writer whose controller is not mounted on this host. */
export class MissingController extends Error {
  constructor(readonly controller: string) {
    super(`the ${controller} controller is not mounted`);
    this.name = "MissingController";
  }
}
