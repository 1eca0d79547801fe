// Bundles the shim into dist/bundle/ with esbuild: one file per entry plus
// shared chunks, so a shim start loads a few files instead of resolving a
// hundred ES modules (the `start` verb runs on every container's critical path).
import { rmSync } from "node:fs";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

rmSync(new URL("../dist/bundle", import.meta.url), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { main: "dist/src/shim/main.js" },
  outdir: "dist/bundle",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunk-[hash]",
  // CommonJS dependencies (pino) call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __tsshimCreateRequire } from 'node:module'; const require = __tsshimCreateRequire(import.meta.url);",
  },
  legalComments: "none",
  logLevel: "warning",
});
