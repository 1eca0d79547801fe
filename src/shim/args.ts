// The command line containerd gives a shim, parsed the way Go's `flag` package
// does: single or double dash, `-name value` or `-name=value`, booleans bare,
// and flags stop at the first positional argument (the verb).

export interface ShimArgs {
  readonly namespace: string;
  readonly id: string;
  /** containerd's gRPC address (`-address`), part of the socket address hash. */
  readonly address: string;
  readonly publishBinary: string;
  readonly bundle: string;
  readonly socket: string;
  readonly debug: boolean;
  readonly version: boolean;
  /** `start`, `delete`, or "" for the daemon itself. */
  readonly action: string;
  readonly rest: readonly string[];
}

const stringFlags = new Set(["namespace", "id", "address", "publish-binary", "bundle", "socket"]);
const boolFlags = new Set(["debug", "v"]);

export class ArgsError extends Error {
  override readonly name = "ArgsError";
}

export function parseShimArgs(argv: readonly string[]): ShimArgs {
  const values = new Map<string, string>();
  const bools = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (boolFlags.has(name)) {
      const v = eq >= 0 ? body.slice(eq + 1) : "true";
      if (v !== "true" && v !== "false" && v !== "1" && v !== "0") {
        throw new ArgsError(`invalid boolean value ${JSON.stringify(v)} for flag -${name}`);
      }
      if (v === "true" || v === "1") bools.add(name);
      else bools.delete(name);
      continue;
    }
    if (!stringFlags.has(name)) throw new ArgsError(`flag provided but not defined: -${name}`);
    if (eq >= 0) {
      values.set(name, body.slice(eq + 1));
    } else {
      const v = argv[i + 1];
      if (v === undefined) throw new ArgsError(`flag needs an argument: -${name}`);
      values.set(name, v);
      i++;
    }
  }
  const positional = argv.slice(i);
  return {
    namespace: values.get("namespace") ?? "",
    id: values.get("id") ?? "",
    address: values.get("address") ?? "",
    publishBinary: values.get("publish-binary") ?? "",
    bundle: values.get("bundle") ?? "",
    socket: values.get("socket") ?? "",
    debug: bools.has("debug"),
    version: bools.has("v"),
    action: positional[0] ?? "",
    rest: positional.slice(1),
  };
}
