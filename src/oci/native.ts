// Typed loader of the container core's Node-API exports (native/napi_container.c).
import { loadAddon } from "./addon.js";
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
  /**
   * Sends a record with fds: a path is opened write-only here (and closed after), a number is
   * an fd the caller keeps.
   */
  containerSyncSend(sock: number, type: number, files?: readonly (string | number)[]): void;
  containerSyncRecv(sock: number, timeoutMs: number): Promise<SyncMessage>;
  containerPidfdSignal(pidfd: number, signal: number): void;
}

const EXPORTS: readonly (keyof NativeContainer)[] = [
  "containerSpawn",
  "containerSyncSend",
  "containerSyncRecv",
  "containerPidfdSignal",
];

let loaded: NativeContainer | undefined;

/** Loads the addon once and checks that it carries every container export. */
export function nativeContainer(): NativeContainer {
  loaded ??= loadAddon<NativeContainer>(EXPORTS);
  return loaded;
}
