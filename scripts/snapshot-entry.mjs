// The daemon's V8 startup snapshot entry (bundled to CommonJS by
// scripts/snapshot.mjs): module initialisation — protobuf descriptors, pino,
// ttrpc — runs once at build time; a shim start only deserializes the heap and
// runs the daemon. Nothing here may touch the native addon, fds or the
// environment before deserialization.
import { startupSnapshot } from "node:v8";
import { parseShimArgs } from "../dist/src/shim/args.js";
import { runDaemon } from "../dist/src/shim/daemon.js";
import { runSpare } from "../dist/src/shim/spare.js";
import { warmUpPure } from "../dist/src/shim/warm-up.js";

// Code compiled now is in the image: a shim's first Create skips compiling
// spec validation, protobuf and logging (src/shim/warm-up.ts).
warmUpPure();

// After `node --snapshot-blob B -- flags...`, argv is [node, ...flags].
startupSnapshot.setDeserializeMainFunction(() => {
  const args = parseShimArgs(process.argv.slice(1));
  // The launcher's spares (`spare`, `adopt`) boot from the same image as a daemon.
  const run =
    args.action === "spare" || args.action === "adopt" ? runSpare(args, args.action) : runDaemon(args);
  run.catch((err) => {
    process.stderr.write(`containerd-shim-tsshim-v2: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
});
