// Builds the shim daemon's V8 startup snapshot into dist/snapshot/: the
// daemon (scripts/snapshot-entry.mjs) bundled into one CommonJS file, run
// once with --build-snapshot so that module initialisation (protobuf
// descriptors, pino, ttrpc) is in the heap image. `start` uses the blob named
// for its own Node version; a Node upgrade without a rebuild falls back to
// the bundle. Like the bundle, it is built aside and swapped in.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const final = `${root}dist/snapshot`;
const next = `${final}.next`;
const old = `${final}.old`;
rmSync(next, { recursive: true, force: true });
mkdirSync(next, { recursive: true });

/** The flags every shim's Node runs with, as the launcher passes them (V8 rejects a blob built with others). */
function nodeFlags() {
  const inc = readFileSync(`${root}native/launcher/node_flags.inc`, "utf8");
  return [...inc.matchAll(/^"([^"]+)",$/gm)].map((m) => m[1]);
}

// The code finds the package root (native addon) from import.meta.url at run
// time: it gets the URL the script has once in place.
await build({
  absWorkingDir: root,
  entryPoints: ["scripts/snapshot-entry.mjs"],
  outfile: `${next}/daemon.cjs`,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  define: { "import.meta.url": "__tsshimMetaUrl" },
  banner: { js: `var __tsshimMetaUrl = ${JSON.stringify(pathToFileURL(`${final}/daemon.cjs`).href)};` },
  legalComments: "none",
  // The source text lives on in the heap image, and Node keeps the whole blob
  // in every daemon's memory: whitespace and comments cost each shim ~1 MiB,
  // and one non-ASCII character in a comment stores the whole file as UTF-16.
  // Names are kept (stack traces stay readable); the map is for debugging.
  minifyWhitespace: true,
  minifySyntax: true,
  charset: "ascii",
  sourcemap: "external",
  logLevel: "warning",
});

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
delete env.NODE_OPTIONS;
try {
  execFileSync(
    process.execPath,
    [
      ...nodeFlags(),
      "--snapshot-blob",
      `${next}/daemon-${process.version}.blob`,
      "--build-snapshot",
      `${next}/daemon.cjs`,
    ],
    { env, stdio: ["ignore", "inherit", "pipe"] },
  );
} catch (err) {
  // A snapshot of older code must not outlive this build: without one, start runs the bundle.
  rmSync(final, { recursive: true, force: true });
  const stderr = err instanceof Error && "stderr" in err ? String(err.stderr) : "";
  throw new Error(`snapshot build failed: ${err instanceof Error ? err.message : String(err)}\n${stderr}`);
}
// The spares' path to the blob (the C launcher, native/launcher, cannot ask Node
// its version without starting it; a blob of another version makes the spare
// fail to boot, and the launcher then falls back to the Node verb).
symlinkSync(`daemon-${process.version}.blob`, `${next}/daemon.blob`);
// (Node warns on stderr that worker_threads and tty, pino's imports, are not
// verified in snapshots: the daemon uses neither.)

rmSync(old, { recursive: true, force: true });
try {
  renameSync(final, old);
} catch {
  // first build
}
renameSync(next, final);
rmSync(old, { recursive: true, force: true });
