// What `start` reads on stdin and prints on stdout, across containerd versions:
//  - 1.6/1.7/2.x: stdin holds the runtime options (a protobuf Any) or nothing;
//    stdout is the plain address, or the bootstrap JSON {"version":3,...} when
//    MAX_SHIM_VERSION allows version 3;
//  - newer containerd: stdin holds a BootstrapParams protobuf whose instance_id
//    and namespace repeat the command line; stdout is a BootstrapResult protobuf.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type BootstrapParams,
  BootstrapParamsSchema,
  BootstrapResultSchema,
} from "../api/gen/containerd/runtime/bootstrap/v1/bootstrap_pb.js";
import { formatLegacyOutput } from "./start.js";

export type StartInput =
  | { readonly kind: "bootstrap"; readonly params: BootstrapParams }
  | { readonly kind: "legacy" };

export function parseStartInput(stdin: Uint8Array, id: string, namespace: string): StartInput {
  if (stdin.length === 0) return { kind: "legacy" };
  try {
    const params = fromBinary(BootstrapParamsSchema, stdin);
    // Runtime options also decode as *some* message; only a matching id and namespace prove bootstrap.
    if (params.instanceId === id && params.namespace === namespace) return { kind: "bootstrap", params };
  } catch {
    // not a BootstrapParams: the legacy runtime options
  }
  return { kind: "legacy" };
}

/** The task API version we answer with: both v2 and v3 Task services are served. */
export const SHIM_PROTOCOL_VERSION = 3;

export function formatStartOutput(
  address: string,
  input: StartInput,
  maxShimVersion: string | undefined,
): Uint8Array {
  if (input.kind === "bootstrap") {
    return toBinary(
      BootstrapResultSchema,
      create(BootstrapResultSchema, { version: SHIM_PROTOCOL_VERSION, address, protocol: "ttrpc" }),
    );
  }
  return formatLegacyOutput(address, maxShimVersion);
}
