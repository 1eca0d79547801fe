// Runs every compiled test file under dist/test with Node's built-in runner.
// Unit tests run first (fast, parallel); native and e2e tests touch the real
// kernel and containerd, so they run one file at a time.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const only = process.argv.slice(2);

function find(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const suites = [
  { name: "unit", dir: "dist/test/unit", concurrency: 2 },
  { name: "native", dir: "dist/test/native", concurrency: 1 },
  { name: "e2e", dir: "dist/test/e2e", concurrency: 1 },
];

const files = [];
for (const s of suites) {
  const found = find(join(root, s.dir)).filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
  if (found.length > 0) files.push({ ...s, found });
}
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}

// One node --test invocation so the closing summary line counts every test.
const args = ["--test", "--test-reporter=spec", `--test-concurrency=1`, ...files.flatMap((s) => s.found)];
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit", env });
process.exit(r.status ?? 1);
