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
}

let loaded: NativeCgroup | undefined;

export function nativeCgroup(): NativeCgroup {
  loaded ??= loadAddon<NativeCgroup>([
    "cgroupOomWatch",
    "cgroupOomUnwatch",
    "cgroupBpfReplace",
    "cgroupBpfCount",
  ]);
  return loaded;
}
