// Bundles the shim into dist/bundle/ with esbuild: one file per entry plus
// shared chunks, so a shim start loads a few files instead of resolving a
// hundred ES modules (the `start` verb runs on every container's critical path).
// The new bundle is built beside the old one and swapped in with renames, so a
// shim starting during a rebuild never finds half a bundle.
import { renameSync, rmSync } from "node:fs";
import { build } from "esbuild";

const dist = new URL("../dist/", import.meta.url).pathname;
const next = `${dist}bundle.next`;
const old = `${dist}bundle.old`;
rmSync(next, { recursive: true, force: true });

await build({
  absWorkingDir: new URL("..", import.meta.url).pathname,
  entryPoints: { main: "dist/src/shim/main.js" },
  outdir: next,
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
  // Every shim keeps its modules' source text in its heap: whitespace and
  // comments cost each shim ~0.6 MiB, and one non-ASCII character stores a
  // whole chunk as UTF-16. Names are kept; the maps are for debugging.
  minifyWhitespace: true,
  minifySyntax: true,
  charset: "ascii",
  sourcemap: "external",
  logLevel: "warning",
});

rmSync(old, { recursive: true, force: true });
try {
  renameSync(`${dist}bundle`, old);
} catch {
  // first build
}
renameSync(next, `${dist}bundle`);
rmSync(old, { recursive: true, force: true });

// The daemon's startup snapshot is built from the same compiled sources.
await import("./snapshot.mjs");
