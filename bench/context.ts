// What every scenario gets: the suite's containerd, an API client on it, the
// imported image, the sizes, and a source of unique container ids.
import type { Containerd, RuntimeName } from "../test/helpers/containerd.js";
import type { ContainerdClient } from "../test/helpers/grpc.js";
import type { Sizes } from "./options.js";

export interface BenchContext {
  cd: Containerd;
  /** containerd's API in the containerd's namespace. */
  api: ContainerdClient;
  image: string;
  sizes: Sizes;
  runtimes: readonly RuntimeName[];
  log(message: string): void;
  /** A container id no other run of this suite uses: `<kind>-<runtime>-<n>`; recorded in `created`. */
  nextId(kind: string, rt: RuntimeName): string;
  /** Set on SIGINT/SIGTERM: finish the current run, then clean up and report. */
  readonly stop: { requested: boolean };
  /** Every id nextId gave out, in order, with its runtime. */
  readonly created: ReadonlyMap<string, RuntimeName>;
}
