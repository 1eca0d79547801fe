// Typed loader of the shim's host-side native helpers (native/napi_host.c).
import { loadAddon } from "../oci/addon.js";

export interface NativeHost {
  /** mount(2); flags as MS_* bits, data "" for none. Throws a native error naming source and target. */
  hostMount(source: string, target: string, fstype: string, flags: number, data: string): void;
  /** umount2(2) with MNT_* flags. */
  hostUmount(target: string, flags: number): void;
  /** TIOCSWINSZ on a PTY master. */
  ptyResize(fd: number, rows: number, cols: number): void;
}

let loaded: NativeHost | undefined;

export function nativeHost(): NativeHost {
  loaded ??= loadAddon<NativeHost>(["hostMount", "hostUmount", "ptyResize"]);
  return loaded;
}
