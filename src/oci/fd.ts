// Closing an fd on cleanup paths, where "already closed" is not an error.
import { closeSync } from "node:fs";

export function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
