// `npm run bench` (after `npm run build`): runs the compiled suite with a
// clean environment. NODE_EXTRA_CA_CERTS alone adds ~80 ms to every Node
// start, and the suite must not hand the caller's environment to anything it
// measures. Arguments are passed through: `npm run bench -- start exec --full`.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const suite = `${root}dist/bench/suite.js`;
if (!existsSync(suite)) {
  console.error(`${suite} is missing: run \`npm run build\` first (npm run bench does)`);
  process.exit(1);
}
const env = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: process.env.HOME ?? "/root",
};
// The suite's own knobs (see docs/benchmarks.md) are the only variables kept.
for (const [k, v] of Object.entries(process.env)) {
  if (k.startsWith("BENCH_") && v !== undefined) env[k] = v;
}
const child = spawn(process.execPath, [suite, ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  env,
});
// A ^C reaches the suite too (same process group): it stops after the current
// run and cleans up, so wait for it. A SIGTERM sent to this script is passed on.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.once("error", (err) => {
  console.error(`cannot run ${suite}: ${err.message}`);
  process.exit(1);
});
child.once("exit", (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + 15)));
