// containerd-shim-tsshim-v2: the verbs containerd runs (`start`, `delete`) and
// the daemon (no verb). Each path imports only what it needs: `start` is on
// every container's critical path.
import { existsSync, readFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ArgsError, parseShimArgs, type ShimArgs } from "./args.js";

const VERSION = "0.1.0";

function readStdin(): Uint8Array {
  try {
    return readFileSync(0);
  } catch {
    return new Uint8Array();
  }
}

function writeStdout(data: Uint8Array | string): void {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  let off = 0;
  while (off < buf.length) off += writeSync(1, buf, off);
}

/**
 * How `start` runs the daemon: from the V8 startup snapshot that
 * scripts/snapshot.mjs built for this very Node version (module
 * initialisation already done) when TSSHIM_SNAPSHOT=1, else from this
 * bundle. The snapshot is opt-in: it costs every shim ~6 MiB of PSS.
 */
function daemonArgs(): string[] {
  const entry = fileURLToPath(import.meta.url);
  const blob = join(dirname(entry), "..", "snapshot", `daemon-${process.version}.blob`);
  if (process.env["TSSHIM_SNAPSHOT"] === "1" && existsSync(blob)) return ["--snapshot-blob", blob, "--"];
  return [entry];
}

async function start(args: ShimArgs): Promise<void> {
  const stdin = readStdin();
  const { startShim, mayBeBootstrap, formatLegacyOutput } = await import("./start.js");
  // Loading protobuf costs the verb ~35 ms of CPU (profiled): only BootstrapParams needs it.
  const boot = mayBeBootstrap(stdin, args.id, args.namespace) ? await import("./bootstrap.js") : undefined;
  const input = boot?.parseStartInput(stdin, args.id, args.namespace) ?? { kind: "legacy" as const };
  const socketDir = input.kind === "bootstrap" ? input.params.socketDir : undefined;
  if (input.kind === "bootstrap" && input.params.containerdTtrpcAddress !== "") {
    process.env["TTRPC_ADDRESS"] = input.params.containerdTtrpcAddress;
  }
  const result = await startShim(args, process.cwd(), {
    daemonArgs: daemonArgs(),
    ...(socketDir !== undefined && socketDir !== "" ? { socketDir } : {}),
  });
  const maxVersion = process.env["MAX_SHIM_VERSION"];
  writeStdout(
    boot !== undefined
      ? boot.formatStartOutput(result.address, input, maxVersion)
      : formatLegacyOutput(result.address, maxVersion),
  );
}

async function main(): Promise<void> {
  const args = parseShimArgs(process.argv.slice(2));
  if (args.version) {
    writeStdout(`containerd-shim-tsshim-v2:\n  Version: ${VERSION}\n  Node: ${process.version}\n`);
    return;
  }
  switch (args.action) {
    case "start":
      await start(args);
      process.exit(0);
      break;
    case "delete": {
      const { deleteShim } = await import("./delete.js");
      const bundle = args.bundle !== "" ? args.bundle : process.cwd();
      const { DEFAULT_SOCKET_DIR, socketPath } = await import("./address.js");
      const dir = process.env["TSSHIM_SOCKET_DIR"] ?? DEFAULT_SOCKET_DIR;
      const fallback =
        args.address !== "" && args.namespace !== "" && args.id !== ""
          ? socketPath(dir, args.address, args.namespace, args.id)
          : undefined;
      writeStdout(await deleteShim(args.id, bundle, (msg) => process.stderr.write(`${msg}\n`), fallback));
      process.exit(0);
      break;
    }
    case "spare":
    case "adopt": {
      // Started by the C launcher (native/launcher) ahead of, or for, a `start`.
      const { runSpare } = await import("./spare.js");
      await runSpare(args, args.action);
      break;
    }
    case "": {
      const { runDaemon } = await import("./daemon.js");
      await runDaemon(args);
      break;
    }
    default:
      throw new ArgsError(
        `unknown action ${JSON.stringify(args.action)} (want start, delete, or none for the daemon)`,
      );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`containerd-shim-tsshim-v2: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
