// The seccomp compiler: OCI profile → cBPF bytes for native/seccomp.c to install.
export { describeRet } from "./bpf.js";
export {
  actionValue,
  type CompiledSeccomp,
  type CompileOptions,
  compileSeccomp,
  SeccompCompileError,
  type SeccompProfile,
} from "./compile.js";
