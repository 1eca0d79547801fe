// Where the spare daemon of one containerd listens: beside the shim sockets,
// named by an FNV-1a 64 hash of containerd's address. The C launcher
// (native/launcher/spare_path.c) computes the same name.
import { join } from "node:path";
import { DEFAULT_SOCKET_DIR } from "./address.js";

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;

export function fnv1a64(text: string): string {
  let h = FNV_OFFSET;
  for (const byte of Buffer.from(text)) {
    h ^= BigInt(byte);
    h = (h * FNV_PRIME) & MASK;
  }
  return h.toString(16).padStart(16, "0");
}

export const SPARE_PREFIX = "tsshim-spare-";

export function spareSocketPath(containerdAddress: string, socketDir?: string): string {
  const dir = socketDir !== undefined && socketDir !== "" ? socketDir : DEFAULT_SOCKET_DIR;
  return join(dir, `${SPARE_PREFIX}${fnv1a64(containerdAddress)}`);
}
