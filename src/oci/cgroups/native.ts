// Typed loader of the cgroup helpers of the native addon (native/napi_cgroup.c).
import { loadAddon } from "../addon.js";

/** An eventfd registration watched in the libuv loop (opaque). */
export type OomWatchHandle = { readonly __brand: "OomWatchHandle" };

export interface NativeCgroup {
  /** Registers for v1 OOM notifications of memoryDir; callback gets the eventfd count. */
  cgroupOomWatch(memoryDir: string, callback: (count: number) => void): OomWatchHandle;
  /** Stops a watch and closes its eventfd (idempotent). */
  cgroupOomUnwatch(handle: OomWatchHandle): void;
  /**
   * Loads and attaches a cgroup device program (BPF_F_ALLOW_MULTI), then detaches the device
   * programs attached before it; returns how many it detached. No fd is kept.
   */
  cgroupBpfReplace(cgroupDir: string, insns: Uint8Array): number;
  /** How many device programs are attached to the cgroup itself. */
  cgroupBpfCount(cgroupDir: string): number;
  /**
   * mkdir -p of every dir in one call (cpuset[i]: copy cpuset.cpus/mems down into each new
   * directory); returns the directories made, outermost first. On failure it removes what it
   * made and throws.
   */
  cgroupMkdirs(dirs: readonly string[], cpuset: readonly boolean[]): string[];
  /**
   * On a libuv pool thread: cgroupMkdirs, then every file opened write-only (O_CLOEXEC). The
   * fds belong to the caller; on failure nothing made or opened is left.
   */
  cgroupPrepareAsync(
    dirs: readonly string[],
    cpuset: readonly boolean[],
    files: readonly string[],
  ): Promise<{ made: string[]; fds: number[] }>;
  /** Writes pid to every cgroup.procs file, in order; throws at the first failure. */
  cgroupEnter(procsFiles: readonly string[], pid: number): void;
  /** rmdir of every dir; the errno of each (0: removed or already absent). */
  cgroupRmdirs(dirs: readonly string[]): number[];
}

let loaded: NativeCgroup | undefined;

export function nativeCgroup(): NativeCgroup {
  loaded ??= loadAddon<NativeCgroup>([
    "cgroupOomWatch",
    "cgroupOomUnwatch",
    "cgroupBpfReplace",
    "cgroupBpfCount",
    "cgroupMkdirs",
    "cgroupPrepareAsync",
    "cgroupEnter",
    "cgroupRmdirs",
  ]);
  return loaded;
}
