// The cgroup manager's public surface.
export type { CgroupBackend, FreezerState, ResourceReport } from "./backend.js";
export { CgroupError } from "./files.js";
export {
  CgroupManager,
  type CgroupManagerOptions,
  type CgroupState,
  type CgroupStats,
} from "./manager.js";
export { type CgroupLayout, type CgroupMode, detectLayout, parseLayout, parseProcCgroup } from "./mode.js";
export { type CgroupPath, CgroupPathError, expandSlice, hierarchyDir, parseCgroupsPath } from "./path.js";
