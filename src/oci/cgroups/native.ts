// Typed loader of the cgroup helpers of the native addon (native/napi_cgroup.c).
import { createRequire } from "node:module";
import { addonPath } from "../native-proc.js";

/** An eventfd registration watched in the libuv loop (opaque). */
export type OomWatchHandle = { readonly __brand: "OomWatchHandle" };

export interface NativeCgroup {
  /** Registers for v1 OOM notifications of memoryDir; callback gets the eventfd count. */
  cgroupOomWatch(memoryDir: string, callback: (count: number) => void): OomWatchHandle;
  /** Stops a watch and closes its eventfd (idempotent). */
  cgroupOomUnwatch(handle: OomWatchHandle): void;
  /** BPF_PROG_LOAD of a cgroup device program + BPF_PROG_ATTACH (multi); returns its fd. */
  cgroupBpfAttach(cgroupDir: string, insns: Uint8Array): number;
  /** BPF_PROG_DETACH of an attached program. */
  cgroupBpfDetach(cgroupDir: string, progFd: number): void;
}

let loaded: NativeCgroup | undefined;

export function nativeCgroup(): NativeCgroup {
  if (loaded === undefined) {
    const addon = createRequire(import.meta.url)(addonPath()) as Partial<NativeCgroup>;
    for (const k of ["cgroupOomWatch", "cgroupOomUnwatch", "cgroupBpfAttach", "cgroupBpfDetach"] as const) {
      if (typeof addon[k] !== "function")
        throw new Error(`native addon lacks ${k}: rebuild with npm run build:native`);
    }
    loaded = addon as NativeCgroup;
  }
  return loaded;
}
