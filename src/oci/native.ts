// Typed loader of the container core's Node-API exports (native/napi_container.c).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NativeContainerPlan } from "./container-plan.js";

/** Sync channel message types (native/container_plan.h). */
export const SYNC = { EOF: 0, MAPPED: 1, READY: 2, ERROR: 3, START: 4, PID: 5 } as const;

export const SPAWN_INIT = 0;
export const SPAWN_EXEC = 1;

export interface SpawnResult {
  pid: number;
  pidfd: number;
  /** Parent's end of the SOCK_SEQPACKET sync channel (O_CLOEXEC). */
  sock: number;
}

export interface SyncMessage {
  type: number;
  pid: number;
  /** Fd passed with SCM_RIGHTS (the PTY master with READY), -1 for none. */
  fd: number;
  error?: unknown;
}

export interface NativeContainer {
  /** Clones the process; it blocks until SYNC.MAPPED. Throws an Error with `.native`. */
  containerSpawn(plan: NativeContainerPlan, kind: number): SpawnResult;
  containerSyncSend(sock: number, type: number): void;
  containerSyncRecv(sock: number, timeoutMs: number): Promise<SyncMessage>;
  containerPidfdSignal(pidfd: number, signal: number): void;
}

const EXPORTS: readonly (keyof NativeContainer)[] = [
  "containerSpawn",
  "containerSyncSend",
  "containerSyncRecv",
  "containerPidfdSignal",
];

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "native"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`tsshim package root not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

let loaded: NativeContainer | undefined;

/** Loads the addon once and checks that it carries every container export. */
export function nativeContainer(): NativeContainer {
  if (loaded !== undefined) return loaded;
  const path = join(packageRoot(), "build", "Release", "tsshim_native.node");
  const mod: unknown = createRequire(import.meta.url)(path);
  if (typeof mod !== "object" || mod === null) throw new Error(`native addon ${path} did not load an object`);
  const missing = EXPORTS.filter((k) => typeof (mod as Record<string, unknown>)[k] !== "function");
  if (missing.length > 0) {
    throw new Error(`native addon ${path} lacks ${missing.join(", ")}: rebuild it with npm run build:native`);
  }
  loaded = mod as NativeContainer;
  return loaded;
}
