// What containerd puts in a task's stdin/stdout/stderr: a FIFO path (the
// default), `file:///path` for a log file, or `binary:///path?arg=v` for a
// logging driver started by the shim. Anything else is refused up front.

export type StdioTarget =
  | { readonly kind: "none" }
  | { readonly kind: "fifo"; readonly path: string }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "binary"; readonly path: string; readonly args: readonly string[] };

export class StdioUriError extends Error {
  override readonly name = "StdioUriError";
}

export function parseStdioUri(value: string, stream: "stdin" | "stdout" | "stderr"): StdioTarget {
  if (value === "") return { kind: "none" };
  if (value.startsWith("/")) return { kind: "fifo", path: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StdioUriError(`${stream}: ${JSON.stringify(value)} is neither an absolute FIFO path nor a URI`);
  }
  const path = decodeURIComponent(url.pathname);
  switch (url.protocol) {
    case "fifo:":
      return { kind: "fifo", path };
    case "file:":
      if (stream === "stdin") throw new StdioUriError("stdin: file:// is only for stdout and stderr");
      return { kind: "file", path };
    case "binary:": {
      if (stream === "stdin") throw new StdioUriError("stdin: binary:// is only for stdout and stderr");
      // As containerd's shims: each query key, then its first value (keys sorted for a stable order).
      const args: string[] = [];
      for (const key of [...new Set(url.searchParams.keys())].sort()) {
        args.push(key);
        const first = url.searchParams.getAll(key)[0];
        if (first !== undefined && first !== "") args.push(first);
      }
      return { kind: "binary", path, args };
    }
    default:
      throw new StdioUriError(
        `${stream}: unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))} in ${value}`,
      );
  }
}
