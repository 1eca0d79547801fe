// Regenerates src/api/gen from proto/ with buf + protoc-gen-es (both pinned in package-lock).
// `--check` generates into a temp dir and fails if the checked-in code drifted.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const check = process.argv.includes("--check");
const target = join(root, "src", "api", "gen");

function generate(out) {
  rmSync(out, { recursive: true, force: true });
  execFileSync(join(bin, "buf"), ["generate", "--output", out], { cwd: root, env, stdio: "inherit" });
}

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

if (!check) {
  // buf writes <out>/<plugin out>; generate at the repo root so paths line up.
  rmSync(target, { recursive: true, force: true });
  execFileSync(join(bin, "buf"), ["generate"], { cwd: root, env, stdio: "inherit" });
} else {
  const tmp = mkdtempSync(join(tmpdir(), "tsshim-gen-"));
  try {
    generate(tmp);
    const fresh = join(tmp, "src", "api", "gen");
    const a = listFiles(fresh);
    const b = listFiles(target);
    const drift = [];
    for (const f of new Set([...a, ...b])) {
      const x = a.includes(f) ? readFileSync(join(fresh, f), "utf8") : null;
      const y = b.includes(f) ? readFileSync(join(target, f), "utf8") : null;
      if (x !== y) drift.push(f);
    }
    if (drift.length > 0) {
      console.error(`generated code drifted from proto/ (run npm run gen): ${drift.join(", ")}`);
      process.exit(1);
    }
    console.log(`generated code matches proto/ (${a.length} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
