// Typed loader for the process half of the native addon (napi_proc.c): plain spawn,
// pidfds, the reaper's hooks into the libuv loop, peer credentials.
import { loadAddon } from "./addon.js";

/** One reaped child, as the native reaper records it at reap time. */
export interface NativeExit {
  pid: number;
  /** Exit code, or null when a signal killed the process. */
  code: number | null;
  /** The terminating signal, or null for a normal exit. */
  signal: number | null;
  /** What containerd reports: the exit code, or 128 + signal. */
  status: number;
  coreDumped: boolean;
  /** CLOCK_REALTIME at reap, in nanoseconds. */
  exitedAt: bigint;
}

export interface NativeSpawnOptions {
  /** The program to execve: a path (no PATH search happens natively). */
  file: string;
  /** argv including argv[0]. */
  argv: readonly string[];
  /** Exactly the child's environment. */
  envp: readonly string[];
  cwd?: string;
  /** fds[i] is the parent fd that becomes child fd i (-1: /dev/null); all others are closed. */
  fds?: readonly number[];
  setsid?: boolean;
  newProcessGroup?: boolean;
  /** Use the fork + pidfd_open fallback instead of clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD). */
  legacyFork?: boolean;
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export type ReaperCallback = (exits: NativeExit[], error: NativeError | undefined) => void;

export interface NativeProc {
  setSubreaper(): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  spawn(opts: NativeSpawnOptions): { pid: number; pidfd: number };
  closeFd(fd: number): void;
  /** A close-on-exec pipe: [read end, write end]. */
  pipe(): [number, number];
  peerCredentials(fd: number): PeerCredentials;
  /** The thread name (15 bytes) and, unless argv is null, /proc/self/cmdline (PR_SET_MM_MAP). */
  setProcessTitle(name: string, argv: readonly string[] | null): void;
  /** A 0600 listening unix socket at path that libuv will not unlink on close; EADDRINUSE if a file is there. */
  listenUnix(path: string, backlog: number): number;
  /**
   * Forks this process into a detached one (own session, parent init), its
   * libuv loop re-armed: the child's pid here, 0 in the child. Only for a
   * spare running V8 --single-threaded (native/fork_detached.h).
   */
  forkDetached(): number;
  reaperStart(callback: ReaperCallback): void;
  reaperDrain(): NativeExit[];
  reaperRef(on: boolean): void;
}

/** Errors thrown by the native core: code is the errno name (ENOENT). */
export interface NativeError extends Error {
  code: string;
  errno: number;
  step?: string;
  syscall?: string;
  detail?: string;
  path?: string;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

const EXPORTS: readonly (keyof NativeProc)[] = [
  "setSubreaper",
  "pidfdOpen",
  "pidfdSendSignal",
  "spawn",
  "closeFd",
  "pipe",
  "peerCredentials",
  "setProcessTitle",
  "listenUnix",
  "forkDetached",
  "reaperStart",
  "reaperDrain",
  "reaperRef",
];

let loaded: NativeProc | undefined;

/** Loads the addon once and checks that it carries every process export. */
export function nativeProc(): NativeProc {
  loaded ??= loadAddon<NativeProc>(EXPORTS);
  return loaded;
}
