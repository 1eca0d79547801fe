// The runtimes under comparison, as ctr flags and as the runtime record of a
// container created through containerd's API. The names are the harness's
// runtime table keys (test/helpers/containerd.ts), the labels are what the
// report prints.

import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { OptionsSchema } from "../src/api/gen/containerd/runc/v1/options_pb.js";
import { packAny } from "../src/api/typeurl.js";
import { type Containerd, CRUN_BIN, RUNTIME_TYPES, type RuntimeName } from "../test/helpers/containerd.js";
import type { ShimKind } from "./shims.js";

/** The baseline every ratio is taken against. */
export const BASELINE: RuntimeName = "runc";

export const RUNTIME_LABELS: Record<RuntimeName, string> = {
  runc: "runc-v2+runc",
  crun: "runc-v2+crun",
  tsshim: "tsshim",
};

/** The shim binary each runtime runs under (runc and crun share runc-v2's). */
export const RUNTIME_SHIMS: Record<RuntimeName, ShimKind> = {
  runc: "runc-v2",
  crun: "runc-v2",
  tsshim: "tsshim",
};

export interface RuntimeRecord {
  name: string;
  options?: Any;
}

/**
 * What containerd stores for the container: runc-v2 gets its Options (binary
 * and state root, the same ones ctr's --runc-binary/--runc-root give), tsshim
 * none.
 */
export function runtimeRecord(cd: Containerd, rt: RuntimeName): RuntimeRecord {
  if (rt === "tsshim") return { name: RUNTIME_TYPES.tsshim };
  const opts = create(OptionsSchema, {
    binaryName: rt === "crun" ? CRUN_BIN : "",
    root: join(cd.dir, rt),
  });
  return { name: RUNTIME_TYPES[rt], options: packAny(OptionsSchema, opts) };
}
