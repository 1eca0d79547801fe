// The one loader of the native addon (build/Release/tsshim_native.node). Each
// area's typed loader (native.ts, native-proc.ts, cgroups/native.ts, the
// shim's native-host.ts) names the exports it needs; a missing one means a
// stale build and gets a clear message instead of a TypeError later.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: the nearest directory above this module with package.json and native/
 * (works from src/oci, dist/src/oci and the bundle in dist/bundle). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "native"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`tsshim package root not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export function addonPath(): string {
  return join(packageRoot(), "build", "Release", "tsshim_native.node");
}

let addon: Record<string, unknown> | undefined;

/** The addon as T, after checking it carries every export in `required`. */
export function loadAddon<T>(required: readonly (keyof T & string)[]): T {
  if (addon === undefined) {
    const path = addonPath();
    const mod: unknown = createRequire(import.meta.url)(path);
    if (typeof mod !== "object" || mod === null)
      throw new Error(`native addon ${path} did not load an object`);
    addon = mod as Record<string, unknown>;
  }
  const missing = required.filter((k) => typeof addon?.[k] !== "function");
  if (missing.length > 0) {
    throw new Error(
      `native addon ${addonPath()} lacks ${missing.join(", ")}: rebuild it with npm run build:native`,
    );
  }
  return addon as T;
}
