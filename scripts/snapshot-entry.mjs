// The daemon's V8 startup snapshot entry (bundled to CommonJS by
// scripts/snapshot.mjs): module initialisation — protobuf descriptors, pino,
// ttrpc — runs once at build time; a shim start only deserializes the heap and
// runs the daemon. Nothing here may touch the native addon, fds or the
// environment before deserialization.
import { startupSnapshot } from "node:v8";
import { parseShimArgs } from "../dist/src/shim/args.js";
import { runDaemon } from "../dist/src/shim/daemon.js";

// After `node --snapshot-blob B -- flags...`, argv is [node, ...flags].
startupSnapshot.setDeserializeMainFunction(() => {
  runDaemon(parseShimArgs(process.argv.slice(1))).catch((err) => {
    process.stderr.write(`containerd-shim-tsshim-v2: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
});
