// Exit statuses of container processes, through the one owner of wait (the Reaper).
import { type ExitStatus, Reaper } from "./reaper.js";

export type { ExitStatus } from "./reaper.js";

/** Announces pid right after clone and resolves with its exit. */
export function watchExit(pid: number, pidfd: number): Promise<ExitStatus> {
  const r = Reaper.instance();
  r.expect(pid);
  return r.watch(pid, { pidfd });
}
