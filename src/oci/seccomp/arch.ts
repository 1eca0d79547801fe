// The architectures a seccomp profile can name, and what the compiler knows of each.

import { SECCOMP_ARCHITECTURES } from "../spec.js";
import { AARCH64_SYSCALLS } from "./syscalls/aarch64.js";
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_ARM,
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
} from "./syscalls/audit-arch.js";
import { X32_SYSCALLS } from "./syscalls/x32.js";
import { X86_SYSCALLS } from "./syscalls/x86.js";
import { X86_64_SYSCALLS } from "./syscalls/x86_64.js";

export interface ArchInfo {
  /** The OCI / libseccomp token, e.g. "SCMP_ARCH_X86_64". */
  token: string;
  /** seccomp_data.arch of a syscall made through this ABI. */
  audit: number;
  /** Syscall name → number; undefined when this build has no table for the arch. */
  syscalls: Readonly<Record<string, number>> | undefined;
  /**
   * Registers are 32 bits wide: like libseccomp, argument comparisons look at the
   * low 32 bits only. x32 counts as 32-bit in libseccomp too.
   */
  args32: boolean;
}

const archs: readonly ArchInfo[] = [
  { token: "SCMP_ARCH_X86_64", audit: AUDIT_ARCH_X86_64, syscalls: X86_64_SYSCALLS, args32: false },
  { token: "SCMP_ARCH_X86", audit: AUDIT_ARCH_I386, syscalls: X86_SYSCALLS, args32: true },
  // x32 shares AUDIT_ARCH_X86_64; its syscall numbers carry X32_SYSCALL_BIT.
  { token: "SCMP_ARCH_X32", audit: AUDIT_ARCH_X86_64, syscalls: X32_SYSCALLS, args32: true },
  { token: "SCMP_ARCH_AARCH64", audit: AUDIT_ARCH_AARCH64, syscalls: AARCH64_SYSCALLS, args32: false },
  { token: "SCMP_ARCH_ARM", audit: AUDIT_ARCH_ARM, syscalls: undefined, args32: true },
];

export type ArchLookup = { kind: "table"; arch: ArchInfo } | { kind: "no-table" } | { kind: "unknown" };

export function lookupArch(token: string): ArchLookup {
  const arch = archs.find((a) => a.token === token);
  if (arch?.syscalls !== undefined) return { kind: "table", arch };
  // Tokens the runtime-spec lists that this build has no tables for: accepted, warned about.
  if (arch !== undefined || (SECCOMP_ARCHITECTURES as readonly string[]).includes(token))
    return { kind: "no-table" };
  return { kind: "unknown" };
}

/** libseccomp always filters the native ABI, whatever the profile lists. */
export function nativeArchToken(nodeArch: string = process.arch): string {
  switch (nodeArch) {
    case "x64":
      return "SCMP_ARCH_X86_64";
    case "arm64":
      return "SCMP_ARCH_AARCH64";
    case "ia32":
      return "SCMP_ARCH_X86";
    case "arm":
      return "SCMP_ARCH_ARM";
    default:
      throw new Error(`seccomp: no syscall tables for the native architecture ${nodeArch}`);
  }
}
